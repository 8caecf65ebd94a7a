export {
  BackupService,
  defaultLabel,
  type BackupEntry,
  type BackupSchedule,
  type BackupServiceOptions,
} from './backup-service.js';
export {
  archiveFormat,
  readManifest,
  unpackArchive,
  writeArchive,
  type BackupManifest,
} from './archive.js';
export { replayDump, type ReplayResult } from './replay.js';
export { DumpParser, type DumpPiece } from './dump-parser.js';
export { checkTemplate, defaultTemplate, expandTemplate, usesSlots } from './template.js';
