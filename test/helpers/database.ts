/** Database access for tests: the store as the manager sees it, instances as their roles. */
import { readFile, writeFile } from 'node:fs/promises';
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

/**
 * Writes `value` as the instance's one mark: in its database (table `marks`, made when
 * missing, as the instance's role) and in its folder (`mark.txt`), so that a test can tell
 * where a database and a folder came from. The instance's app is `echo` unless given.
 */
export async function setMark(
  daemon: Daemon,
  id: string,
  value: string,
  app = 'echo',
): Promise<void> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS marks (v text)');
    await client.query('DELETE FROM marks');
    await client.query('INSERT INTO marks VALUES ($1)', [value]);
  } finally {
    await client.end();
  }
  await writeFile(join(daemon.data, 'appdata', app, id, 'mark.txt'), value);
}

/** The marks {@link setMark} wrote, in the database and in the folder (null where none is). */
export async function markOf(
  daemon: Daemon,
  id: string,
  app = 'echo',
): Promise<{ database: string | null; folder: string | null }> {
  const creds = await credentials(daemon, id);
  const client = await connectAs(creds, creds.user);
  let database: string | null = null;
  try {
    const found = await client.query<{ v: string }>(
      "SELECT v FROM marks WHERE to_regclass('marks') IS NOT NULL",
    );
    database = found.rows[0]?.v ?? null;
  } catch {
    database = null;
  } finally {
    await client.end();
  }
  const folder = await readFile(join(daemon.data, 'appdata', app, id, 'mark.txt'), 'utf8').catch(
    () => null,
  );
  return { database, folder };
}
