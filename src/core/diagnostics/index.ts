/**
 * Diagnostics: one archive with the logs, status, settings and alarm history of the manager,
 * secrets removed. The public surface of the subsystem.
 */
export { diagnosticsArchive, scrub, scrubText, type DiagnosticsInput } from './bundle.js';
