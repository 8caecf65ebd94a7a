export {
  AdminAuth,
  sessionCookieName,
  type AdminAuthOptions,
  type AdminSession,
} from './admin-auth.js';
export { LoginLimiter, type LoginLimiterOptions } from './login-limiter.js';
export { generatePassword, hashPassword, minPasswordLength, verifyPassword } from './password.js';
export { grantNode, InstanceGrants, type InstanceGrantsOptions } from './instance-grants.js';
