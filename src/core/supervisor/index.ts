export {
  AppSupervisor,
  type AppSupervisorOptions,
  type LastExit,
  type SupervisorNotice,
  type SupervisorStatus,
} from './app-supervisor.js';
export {
  classifyExit,
  defaultRestartPolicy,
  exitKind,
  restartDelayMs,
  transition,
  transitions,
  type AppState,
  type ExitKind,
  type RestartPolicy,
  type SupervisorAction,
  type SupervisorEvent,
  type Transition,
} from './machine.js';
export {
  processLauncher,
  signalGroup,
  systemClock,
  type Clock,
  type Launcher,
  type ProcessExit,
  type ProcessHandle,
  type ProcessSpec,
  type StopStep,
} from './os.js';
export {
  detectCgroups,
  parseMountinfo,
  parseProcCgroup,
  type CgroupLayout,
  type CgroupMount,
  type ProcCgroupEntry,
} from './cgroup-detect.js';
export { cpuShares, parseFlatKeyed } from './cgroup-files.js';
export {
  Sandbox,
  type Enforcement,
  type ResourceLimits,
  type SandboxInfo,
  type SandboxOptions,
} from './limits.js';
