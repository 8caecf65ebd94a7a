import { join } from 'node:path';

/** Where everything lives in the data folder (see DESIGN.md, "Data directory"). */
export interface DataLayout {
  root: string;
  apps: string;
  appdata: string;
  logs: string;
  backups: string;
  tls: string;
  /** Runtime files: sockets of the embedded database. */
  run: string;
  pg: string;
  socket: string;
  pidFile: string;
  nodeIdFile: string;
  secretKeyFile: string;
}

/** The layout of a data folder at `root` (an absolute path). */
export function dataLayout(root: string): DataLayout {
  return {
    root,
    apps: join(root, 'apps'),
    appdata: join(root, 'appdata'),
    logs: join(root, 'logs'),
    backups: join(root, 'backups'),
    tls: join(root, 'tls'),
    run: join(root, 'run'),
    pg: join(root, 'pg'),
    socket: join(root, 'manager.sock'),
    pidFile: join(root, 'manager.pid'),
    nodeIdFile: join(root, 'node-id'),
    secretKeyFile: join(root, 'secret.key'),
  };
}
