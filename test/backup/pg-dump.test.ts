/**
 * The WebAssembly pg_dump against a real embedded PostgreSQL 18 in a temp folder: what it
 * dumps, that it streams with bounded memory, and that failures and aborts end cleanly.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { dumpDatabase, selfCheck, type DumpSource } from '../../src/core/backup/index.js';
import type { EmbeddedPostgres } from '../../src/core/database/index.js';
import { eventually, makeTemp, removeTemp } from '../helpers/daemon.js';
import { dumpSourceOf, makeInstanceDatabase, startPostgres } from '../helpers/embedded-postgres.js';

const rows = 3000;
/** Rows of 1 kB in the large table: about 50 MB of COPY data. */
const bigRows = 50_000;

/** Reads a whole (small) dump. */
async function dumpText(source: DumpSource): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of dumpDatabase(source)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Undoes COPY's text-format escaping of one field (\N is NULL). */
function copyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c: string) => {
    const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' };
    return map[c] ?? c;
  });
}

/** The rows of the COPY block of `table`, as unescaped fields. */
function copyRows(dump: string, table: string): { columns: string[]; rows: (string | null)[][] } {
  const lines = dump.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`COPY ${table} (`));
  assert.ok(start >= 0, `a COPY block for ${table}`);
  const columns = /\((.*)\) FROM stdin;$/.exec(lines[start]!)![1]!.split(', ');
  const end = lines.indexOf('\\.', start);
  assert.ok(end > start, 'the COPY block ends with \\.');
  return {
    columns,
    rows: lines.slice(start + 1, end).map((line) => line.split('\t').map(copyField)),
  };
}

/** OS threads of this process: a worker thread is one. */
async function threadCount(): Promise<number> {
  return (await readdir('/proc/self/task')).length;
}

function dumpConnections(admin: pg.Client): Promise<number> {
  return admin
    .query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'appvisor pg_dump'",
    )
    .then((result) => Number(result.rows[0]!.n));
}

describe('pg_dump (WebAssembly) against PostgreSQL 18', () => {
  let root: string;
  let server: EmbeddedPostgres | undefined;
  let admin: pg.Client | undefined;
  let small: DumpSource;
  let big: DumpSource;

  before(async () => {
    root = await makeTemp();
    const db = await startPostgres(root);
    server = db;
    admin = new pg.Client(db.adminConfig('postgres'));
    await admin.connect();
    const makeDatabase = async (id: string, password: string): Promise<DumpSource> =>
      dumpSourceOf(await makeInstanceDatabase(db, id, password));
    small = await makeDatabase('dumpsmall', 'small-secret-Pa55:word\\x');
    big = await makeDatabase('dumpbig', 'big-secret-Pa55word');

    const client = new pg.Client(small);
    await client.connect();
    await client.query(`
      CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE SEQUENCE ticket_seq;
      SELECT setval('ticket_seq', 4242);
      CREATE TABLE items (
        id int PRIMARY KEY,
        name text NOT NULL,
        note text,
        feeling mood NOT NULL,
        data bytea,
        made timestamptz NOT NULL
      );
      INSERT INTO items
        SELECT g,
               'item ' || g || E' it''s "quoted"\\ttabbed\\nnext line \\\\ back ü € 😀',
               CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x', g % 50) END,
               (ARRAY['sad', 'ok', 'happy']::mood[])[g % 3 + 1],
               decode(lpad(to_hex(g), 8, '0') || '00ff5c0a', 'hex'),
               timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
        FROM generate_series(1, ${rows}) g;
      CREATE VIEW happy_items AS SELECT id, name FROM items WHERE feeling = 'happy';
      CREATE FUNCTION item_label(i items) RETURNS text LANGUAGE sql IMMUTABLE
        AS $$ SELECT i.name || ' #' || i.id $$;
    `);
    await client.end();

    const bigClient = new pg.Client(big);
    await bigClient.connect();
    await bigClient.query('CREATE TABLE blobs (id int PRIMARY KEY, body text NOT NULL)');
    await bigClient.query(
      `INSERT INTO blobs SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, ${bigRows}) g`,
    );
    await bigClient.end();
  });

  after(async () => {
    await admin?.end().catch(() => undefined);
    await server?.close();
    await removeTemp(root);
  });

  test('selfCheck runs pg_dump 18 and dumps a schema', async () => {
    const bare = await selfCheck();
    assert.match(bare.version, /^pg_dump \(PostgreSQL\) 18\.\d+$/);
    assert.equal(bare.dumped, false);
    const full = await selfCheck(small);
    assert.equal(full.dumped, true);
  });

  test('dumps schema and rows as plain SQL without owners or privileges', async () => {
    const dump = await dumpText(small);
    assert.match(dump, /^--\n-- PostgreSQL database dump\n/);
    assert.match(dump, /-- PostgreSQL database dump complete\n/);
    assert.match(
      dump,
      /CREATE TYPE public\.mood AS ENUM \(\n {4}'sad',\n {4}'ok',\n {4}'happy'\n\);/,
    );
    assert.match(dump, /CREATE SEQUENCE public\.ticket_seq/);
    assert.match(dump, /SELECT pg_catalog\.setval\('public\.ticket_seq', 4242, true\);/);
    assert.match(dump, /CREATE TABLE public\.items \(/);
    assert.match(dump, /CREATE VIEW public\.happy_items AS/);
    assert.match(dump, /CREATE FUNCTION public\.item_label\(i public\.items\) RETURNS text/);
    assert.match(dump, /ADD CONSTRAINT items_pkey PRIMARY KEY \(id\);/);
    assert.doesNotMatch(dump, /OWNER TO/, 'no owners (-O)');
    assert.doesNotMatch(dump, /^(GRANT|REVOKE) /m, 'no privileges (-x)');

    const copy = copyRows(dump, 'public.items');
    assert.deepEqual(copy.columns, ['id', 'name', 'note', 'feeling', 'data', 'made']);
    assert.equal(copy.rows.length, rows);
    const client = new pg.Client(small);
    await client.connect();
    try {
      const expected = await client.query<{
        id: number;
        name: string;
        note: string | null;
        feeling: string;
        data: string;
      }>(
        "SELECT id, name, note, feeling, '\\x' || encode(data, 'hex') AS data FROM items WHERE id IN (1, 7, 1234, $1) ORDER BY id",
        [rows],
      );
      assert.equal(expected.rows.length, 4);
      for (const row of expected.rows) {
        const dumped = copy.rows.find((fields) => fields[0] === String(row.id));
        assert.ok(dumped, `row ${row.id} is in the dump`);
        assert.equal(dumped[1], row.name);
        assert.equal(dumped[2], row.note);
        assert.equal(dumped[3], row.feeling);
        assert.equal(dumped[4], row.data);
      }
      assert.ok(expected.rows[0]!.name.includes('\n') && expected.rows[0]!.name.includes('😀'));
    } finally {
      await client.end();
    }
  });

  test('single values larger than the input ring (one message of 3 MB) pass', async () => {
    // libpq reads again at once while a long message arrives; a read that blocked when the
    // message was complete would wait for ever.
    const client = new pg.Client(small);
    await client.connect();
    const value = 'y'.repeat(3_000_000);
    await client.query('CREATE TABLE wide (id int PRIMARY KEY, body text)');
    await client.query('INSERT INTO wide VALUES (1, $1), (2, $2)', [value, 'short']);
    await client.end();
    try {
      const { rows: copied } = copyRows(await dumpText(small), 'public.wide');
      assert.deepEqual(
        copied.map((row) => [row[0], row[1]?.length]),
        [
          ['1', 3_000_000],
          ['2', 5],
        ],
      );
    } finally {
      const cleanup = new pg.Client(small);
      await cleanup.connect();
      await cleanup.query('DROP TABLE wide');
      await cleanup.end();
    }
  });

  test('streams a 50 MB table to a slow consumer with bounded memory', async (t) => {
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    let bytes = 0;
    let copyLines = 0;
    let partial = '';
    let maxBuffered = 0;
    const stream = dumpDatabase(big);
    const started = Date.now();
    try {
      await pipeline(
        stream,
        new Writable({
          highWaterMark: 64 * 1024,
          write(chunk: Buffer, _encoding, callback) {
            bytes += chunk.length;
            maxBuffered = Math.max(maxBuffered, stream.readableLength);
            const text = partial + chunk.toString('latin1');
            const lines = text.split('\n');
            partial = lines.pop()!;
            for (const line of lines) if (/^\d+\t[0-9a-f]{1024}$/.test(line)) copyLines++;
            // A consumer slower than the dump (about 25 MB/s): pg_dump must wait for it.
            setTimeout(callback, Math.ceil(chunk.length / 25_000));
          },
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    const growth = (peak - baseline) / 1024 / 1024;
    t.diagnostic(
      `slow consumer: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s, peak RSS growth ${growth.toFixed(1)} MB, max buffered ${maxBuffered} B`,
    );
    assert.equal(copyLines, bigRows);
    assert.ok(bytes > 50 * 1e6, `the dump has ${bytes} bytes`);
    assert.ok(growth < 150, `RSS grew by ${growth.toFixed(1)} MB`);
    assert.ok(maxBuffered <= 512 * 1024, `the stream buffered at most ${maxBuffered} bytes`);
  });

  test('measures the throughput of a 50 MB dump (fast consumer)', async (t) => {
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    let bytes = 0;
    const started = Date.now();
    try {
      for await (const chunk of dumpDatabase(big)) bytes += (chunk as Buffer).length;
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(
      `fast consumer: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s = ${(bytes / 1e6 / seconds).toFixed(1)} MB/s, peak RSS growth ${((peak - baseline) / 1024 / 1024).toFixed(1)} MB`,
    );
    assert.ok(bytes > 50 * 1e6);
  });

  test('a wrong password fails with the authentication error, not the password', async () => {
    const wrong = 'not-the-Right-one-42';
    await assert.rejects(dumpText({ ...small, password: wrong }), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'DUMP_FAILED');
      assert.match(error.message, /password authentication failed for user "i_dumpsmall"/);
      assert.ok(!error.message.includes(wrong), 'the wrong password is not in the message');
      assert.ok(!error.message.includes(small.password), 'the right one is not either');
      return true;
    });
  });

  test('an unknown database and a refused connection fail clearly', async () => {
    await assert.rejects(dumpText({ ...small, database: 'no_such_db' }), /"no_such_db"/);
    await assert.rejects(
      dumpText({ ...small, port: 1 }),
      /server closed the connection unexpectedly.*ECONNREFUSED/s,
    );
  });

  test('a server that ends the connection mid-dump errors the stream', async () => {
    const stream = dumpDatabase(big);
    let terminated = false;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          assert.ok((chunk as Buffer).length > 0);
          if (!terminated) {
            terminated = true;
            await admin!.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'appvisor pg_dump'",
            );
          }
        }
      })(),
      (error: Error) => {
        assert.equal((error as { code?: string }).code, 'DUMP_FAILED');
        assert.match(error.message, /terminating connection|server closed the connection/);
        return true;
      },
    );
  });

  test('aborting mid-dump errors the stream, ends the worker and the connection', async () => {
    const threads = await threadCount();
    const controller = new AbortController();
    const stream = dumpDatabase(big, { signal: controller.signal });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          received += (chunk as Buffer).length;
          if (received > 1024 * 1024) controller.abort();
        }
      })(),
      (error: Error) => {
        assert.equal(error.name, 'AbortError');
        return true;
      },
    );
    assert.ok(received < 10 * 1024 * 1024, 'it stopped early');
    await eventually(
      () =>
        Promise.resolve(
          process.getActiveResourcesInfo().includes('TCPSocketWrap') ? undefined : true,
        ),
      5_000,
      'the socket to close',
    );
    await eventually(
      async () => ((await threadCount()) <= threads ? true : undefined),
      10_000,
      'the worker thread to end',
    );
    await eventually(
      async () => ((await dumpConnections(admin!)) === 0 ? true : undefined),
      10_000,
      'the server to see the connection closed',
    );
  });
});
