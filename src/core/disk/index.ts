/**
 * The disk of the data folder: free space, the `disk-low` alarm, the reserve file, and the
 * DISK_FULL error for writes that hit a full disk. The public surface of the subsystem.
 */
export {
  DiskWatch,
  diskFullCause,
  diskFullError,
  nearlyFullBytes,
  diskSpace,
  isDiskFull,
  type DiskReport,
  type DiskSpace,
  type DiskWatchOptions,
} from './disk-watch.js';
