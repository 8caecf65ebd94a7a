import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type pg from 'pg';
import type { BackupEntry, InstanceView } from '../../src/api/index.js';
import { makeAppFolder, roleChanger } from '../helpers/apps.js';
import { connectAs, credentials, storeClient } from '../helpers/database.js';
import {
  eventually,
  instanceView,
  makeTemp,
  removeTemp,
  waitForApp,
  waitForInstance,
  withDaemon,
  type Daemon,
  cliOk,
} from '../helpers/daemon.js';

/** The outcome the instance wrote after its last start, once it is there. */
async function alterOutcome(daemon: Daemon, id: string): Promise<string> {
  const file = join((await instanceView(daemon, id)).dataDir, 'alter.txt');
  return eventually(() => readFile(file, 'utf8').catch(() => undefined), 20_000, 'alter.txt');
}

/** Rows of the instance's table, read by the superuser (whatever the role's password is). */
async function notesOf(daemon: Daemon, id: string): Promise<string[]> {
  const client = await storeClient(daemon, (await instanceView(daemon, id)).database);
  try {
    return (await client.query<{ t: string }>('SELECT t FROM notes ORDER BY t')).rows.map(
      (row) => row.t,
    );
  } finally {
    await client.end();
  }
}

describe('an instance role cannot cut the manager off its database', () => {
  const running = withDaemon();

  test('backup, restore and a service restart work after the role changed its password', async () => {
    const { daemon } = running;
    const work = await makeTemp();
    try {
      const folder = await makeAppFolder(work, 'rolechanger', roleChanger);
      await cliOk(daemon, 'app', 'install', folder, '--autostart');
      await waitForApp(daemon, 'rolechanger');
      await cliOk(daemon, 'instance', 'create', 'rolechanger', 'victim', '--domain', 'example.com');
      await waitForInstance(daemon, 'victim');
      assert.equal(await alterOutcome(daemon, 'victim'), 'altered', 'the attack was made');

      const made = JSON.parse(
        await cliOk(daemon, 'backup', 'create', 'victim', '--json'),
      ) as BackupEntry;
      assert.equal(made.instance, 'victim');

      await storeQuery(
        daemon,
        (await instanceView(daemon, 'victim')).database,
        'DELETE FROM notes',
      );
      const restored = JSON.parse(
        await cliOk(daemon, 'backup', 'restore', made.file, '--into', 'victim', '--json'),
      ) as InstanceView;
      assert.equal(restored.id, 'victim');
      await waitForInstance(daemon, 'victim');
      assert.deepEqual(
        await notesOf(daemon, 'victim'),
        ['kept'],
        'the restore brought the row back',
      );

      await cliOk(daemon, 'app', 'restart', 'rolechanger');
      await waitForApp(daemon, 'rolechanger');
      const view = await waitForInstance(daemon, 'victim');
      assert.equal(view.state, 'ready', 'the instance starts after a service restart');
      await cliOk(daemon, 'backup', 'create', 'victim');
    } finally {
      await removeTemp(work);
    }
  });

  test("an instance role reaches nothing but its own database and cannot change its role's limits", async () => {
    const { daemon } = running;
    await cliOk(
      daemon,
      'instance',
      'create',
      'rolechanger',
      'neighbour',
      '--domain',
      'example.com',
    );
    await waitForInstance(daemon, 'neighbour');
    const creds = await credentials(daemon, 'victim');
    // The role's own credentials, as the instance has them (the last backup set the password
    // back to the one the instance is given).
    const attacker = creds;
    const own = await connectAs(attacker, creds.user);
    try {
      for (const database of ['postgres', 'template1', 'appvisor', 'i_neighbour']) {
        await assert.rejects(
          connectAs(attacker, database).then((client) => client.end()),
          /permission denied|no pg_hba/,
          `the role connects to ${database}`,
        );
      }
      const refused = async (sql: string) => {
        await assert.rejects(own.query(sql), /permission denied|must be|not permitted/, sql);
      };
      await refused('ALTER ROLE current_user CONNECTION LIMIT 1000');
      await refused('ALTER ROLE current_user CREATEROLE');
      await refused('ALTER ROLE current_user CREATEDB');
      await refused('ALTER ROLE current_user SUPERUSER');
      await refused('ALTER ROLE current_user BYPASSRLS');
      await refused('CREATE ROLE evil LOGIN');
      await refused('CREATE DATABASE evil');
      const roles = await own.query<{ rolname: string }>(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE '%victim'",
      );
      assert.ok(roles.rows.length > 1, 'the manager has a role of its own for the instance');
      for (const { rolname } of roles.rows) {
        if (rolname === creds.user) continue;
        // The manager's own way in: the instance can neither lock it out nor take it over.
        await refused(`ALTER ROLE "${rolname}" PASSWORD 'y'`);
        await refused(`REVOKE "${creds.user}" FROM "${rolname}"`);
        await refused(`SET ROLE "${rolname}"`);
      }
    } finally {
      await own.end();
    }
    // After all that, the manager still reaches the database.
    await cliOk(daemon, 'backup', 'create', 'victim');
  });
});

async function storeQuery(daemon: Daemon, database: string, sql: string): Promise<void> {
  const client: pg.Client = await storeClient(daemon, database);
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
