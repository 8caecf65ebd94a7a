/**
 * What the manager says about itself: the status and health reports, the diagnostics archive
 * (and the secrets taken out of it), the database connections the monitor counts. It reads
 * every other subsystem and nothing reads it but the composition root.
 */
export { clientConnections } from './connections.js';
export { knownSecrets, managerDiagnostics, type DiagnosticsSources } from './diagnostics.js';
export { ManagerStatus, type ManagerState, type StatusSources } from './report.js';
