/** Database access for tests: the store as the manager sees it, instances as their roles. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { StatusReport } from '../../src/api/index.js';
import { SecretBox } from '../../src/lib/secret-box.js';
import { http, type Daemon } from './daemon.js';

/** The store, as the manager sees it (peer login over the socket, as the manager's user). */
export async function storeClient(daemon: Daemon, database = 'appvisor'): Promise<pg.Client> {
  const status = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/status'))
    .body as StatusReport;
  const client = new pg.Client({
    host: join(daemon.data, 'run', 'postgres'),
    port: status.database.port,
    user: 'postgres',
    database,
  });
  await client.connect();
  return client;
}

/** The database credentials of an instance, decrypted with the data folder's key. */
export async function credentials(
  daemon: Daemon,
  id: string,
): Promise<{ user: string; password: string; port: number }> {
  const key = Buffer.from(
    (await readFile(join(daemon.data, 'secret.key'), 'utf8')).trim(),
    'base64',
  );
  const client = await storeClient(daemon);
  try {
    const row = (
      await client.query<{ db_name: string; db_password_sealed: string }>(
        'SELECT db_name, db_password_sealed FROM instances WHERE id = $1',
        [id],
      )
    ).rows[0]!;
    const status = (await http('GET', { socket: daemon.socket }, '/manager/api/v1/status'))
      .body as StatusReport;
    return {
      user: row.db_name,
      password: new SecretBox(key).open(row.db_password_sealed),
      port: status.database.port,
    };
  } finally {
    await client.end();
  }
}

export async function connectAs(
  creds: { user: string; password: string; port: number },
  database: string,
): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: creds.port,
    user: creds.user,
    password: creds.password,
    database,
  });
  await client.connect();
  return client;
}
