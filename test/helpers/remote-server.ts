/**
 * Real remote backup servers for tests and the benchmark, each in a process of its own (so a
 * test can kill it mid-upload): `node remote-server.js s3|webdav <folder>` serves `folder` on
 * a loopback ephemeral port and prints `{"port":N}`. S3: s3rver, bucket `backups`, the key
 * pair of env REMOTE_KEY_ID / REMOTE_SECRET. WebDAV: webdav-server on the folder's files, basic
 * authentication of env REMOTE_USER / REMOTE_PASSWORD. With env REMOTE_DIE_AFTER (bytes), the
 * process kills itself with SIGKILL once that much has come in, as a server that dies.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Server, Socket } from 'node:net';
import { v2 as webdav } from 'webdav-server';

const require = createRequire(import.meta.url);

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  httpServer: Server;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** Kills this process once `limit` bytes came in over all connections of `server`. */
function dieAfter(server: Server, limit: number): void {
  let seen = 0;
  server.on('connection', (socket: Socket) => {
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) process.kill(process.pid, 'SIGKILL');
    });
  });
}

async function main(): Promise<void> {
  const [kind, folder] = process.argv.slice(2);
  if (!folder) throw new Error('usage: remote-server s3|webdav <folder>');
  const env = process.env;
  let server: Server;
  if (kind === 's3') {
    const S3rver = require('s3rver') as S3rverClass;
    const accounts = require('s3rver/lib/models/account') as {
      DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
    };
    accounts.DUMMY_ACCOUNT.createKeyPair(
      env.REMOTE_KEY_ID ?? 'S3RVER',
      env.REMOTE_SECRET ?? 'S3RVER',
    );
    const s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: folder,
      configureBuckets: [{ name: 'backups' }],
    });
    await s3.run();
    server = s3.httpServer;
  } else if (kind === 'webdav') {
    const users = new webdav.SimpleUserManager();
    const user = users.addUser(env.REMOTE_USER ?? 'backup', env.REMOTE_PASSWORD ?? 'backup', false);
    const privileges = new webdav.SimplePathPrivilegeManager();
    privileges.setRights(user, '/', ['all']);
    const options = Object.assign(new webdav.WebDAVServerOptions(), {
      hostname: '127.0.0.1',
      requireAuthentification: true,
      httpAuthentication: new webdav.HTTPBasicAuthentication(users, 'tests'),
      privilegeManager: privileges,
      rootFileSystem: new webdav.PhysicalFileSystem(folder),
    });
    const dav = new webdav.WebDAVServer(options);
    // Its own start() takes port 0 as "the default, 1900": served by a server of ours instead.
    const handle = dav.executeRequest as (
      request: IncomingMessage,
      response: ServerResponse,
    ) => void;
    server = createServer((request, response) => {
      handle.call(dav, request, response);
    });
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
  } else {
    throw new Error(`unknown server kind ${kind}`);
  }
  const limit = Number(env.REMOTE_DIE_AFTER ?? 0);
  if (limit > 0) dieAfter(server, limit);
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' ? address?.port : 0 })}\n`,
  );
}

// `npm test` (node --test dist/) loads every compiled file, this one without arguments: there
// is then nothing to serve, and nothing failed.
if (process.argv.length > 2) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
