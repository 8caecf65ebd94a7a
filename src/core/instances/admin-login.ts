/** Admin logins to an instance's app (docs/appwebsocket.md). */
import { loginDigest, sessionKeyOf } from '../../lib/app-login.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { AppvisorError } from '../errors/index.js';
import type { AdminLogin, Row } from './model.js';

/** What a challenge may be: the spec's services send at most 16 digits or hex letters. */
const challengePattern = /^[0-9A-Za-z]{1,16}$/;

/**
 * The AppLogin an admin client sends after the instance answered its AppChallenge with
 * `challenge`, signed with the instance password as it is now, and the session key that
 * login will have.
 */
export function adminLoginOf(secrets: SecretBox, row: Row, challenge: string): AdminLogin {
  if (!challengePattern.test(challenge)) {
    throw new AppvisorError('BAD_REQUEST', 'the challenge must be 1 to 16 letters or digits');
  }
  const password = secrets.open(row.password_sealed);
  const fields = {
    app: row.app,
    domain: row.domain,
    sip: row.app,
    guid: '0'.repeat(32),
    dn: 'Admin',
  };
  return {
    login: { mt: 'AppLogin', ...fields, digest: loginDigest(fields, challenge, password) },
    sessionKey: sessionKeyOf(challenge, password),
  };
}
