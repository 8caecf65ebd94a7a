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
} from './os.js';
