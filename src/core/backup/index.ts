/**
 * Backups of instances: archives of their database (dumped with the WebAssembly pg_dump 18, no
 * native binaries) and files, restores, templates and schedules. The subsystem's only public
 * surface.
 */
export { BackupService } from './backup-service.js';
export type { BackupPhase, BackupProgress } from './progress.js';
export { defaultLabel } from './naming.js';
export {
  type BackupEntry,
  type BackupSchedule,
  type DumpCheck,
  type BackupServiceOptions,
} from './model.js';
export { archiveFormat, writeArchive, type BackupManifest } from './archive.js';
export { checkArchive, readManifest, unpackArchive } from './archive-read.js';
export { archiveSegments, type OpenedArchive, type UploadOptions } from './archive-files.js';
export { replayDump, type ReplayOptions, type ReplayResult } from './replay.js';
export { DumpScript, RowCounter, type ScriptPiece } from './dump-script.js';
export {
  verifyArchive,
  type ScratchConnection,
  type VerifyInput,
  type VerifyReport,
} from './verify.js';
export { checkTemplate, defaultTemplate, expandTemplate, usesSlots } from './template.js';
export { dumpDatabase, type DumpOptions, type DumpSource } from './dump.js';
export { selfCheck, type SelfCheckReport } from './self-check.js';
export {
  BackupTargets,
  checkTarget,
  type BackupTarget,
  type TargetCredentials,
  type TargetInput,
  type TargetSettings,
  type TargetTest,
} from './targets.js';
