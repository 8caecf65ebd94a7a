/**
 * Backups: database dumps made with the WebAssembly pg_dump 18 (no native binaries).
 * This file is the subsystem's only public surface.
 */
export { dumpDatabase, type DumpOptions, type DumpSource } from './dump.js';
export { selfCheck, type SelfCheckReport } from './self-check.js';
