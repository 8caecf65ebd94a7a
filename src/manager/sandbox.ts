import { Sandbox, type ResourceLimits, type SandboxInfo } from '../core/supervisor/index.js';
import type { Basis } from './basis.js';

/** The apps' sandbox and the limits each app gets unless it is given its own. */
export interface AppLimits {
  sandbox: Sandbox;
  resourceLimits: ResourceLimits;
  /** How the limits are enforced, and the defaults (for the status report). */
  status: SandboxInfo & { defaults: ResourceLimits };
}

/**
 * One control group per app below the manager's own (a name per node: two managers on one
 * machine never share one), or rlimits when no cgroup can be written: the log says which.
 */
export function openSandbox({ config, nodeId, isRoot, logger }: Basis): AppLimits {
  const sandbox = Sandbox.open({
    name: `appvisor-${nodeId.slice(0, 8)}`,
    isRoot,
    mode: config.apps.limitsEnforcement,
  });
  const resourceLimits = {
    memoryMaxBytes: config.apps.memoryMaxBytes,
    cpuWeight: config.apps.cpuWeight,
    pidsMax: config.apps.pidsMax,
  };
  const info = sandbox.info();
  if (info.enforcement.startsWith('cgroup'))
    logger.info({ limits: info }, 'app limits enforced by control groups');
  else logger.warn({ limits: info }, 'app limits are not enforced by control groups');
  return { sandbox, resourceLimits, status: { ...info, defaults: resourceLimits } };
}
