/**
 * Replaying pg_dump scripts into a real embedded PostgreSQL 18, as a restore does (into a new
 * database owned by an instance's role, logged in as the manager's role of it, SET ROLE to it):
 * a database with every kind of object pg_dump emits comes back the same, row for row and
 * definition for definition; a replay is one transaction; failures name where they happened.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { dumpDatabase, replayDump, type ReplayOptions } from '../../src/core/backup/index.js';
import {
  createStagingDatabase,
  dropDatabase,
  type EmbeddedPostgres,
} from '../../src/core/database/index.js';
import { makeTemp, removeTemp } from '../helpers/daemon.js';
import { fillFixture, fingerprint } from '../helpers/fixture.js';
import {
  dumpSourceOf,
  makeInstanceDatabase,
  startPostgres,
  type TestDatabase,
} from '../helpers/embedded-postgres.js';

async function dumpText(source: TestDatabase): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of dumpDatabase(dumpSourceOf(source))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The script in chunks of `size` bytes (a chunk may end anywhere, inside a character too). */
function chunked(text: string, size = 64 * 1024): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

describe('restoring pg_dump scripts', () => {
  let root: string;
  let server: EmbeddedPostgres;
  let source: TestDatabase;
  let dump: string;
  let expected: Record<string, unknown>;

  /** A fresh database owned by the source's role, as a restore makes beside the live one. */
  const scratch = async (): Promise<{ database: string; drop: () => Promise<void> }> => {
    const database = `av_restore_test_${randomBytes(4).toString('hex')}`;
    await createStagingDatabase(server, database, source.user);
    return { database, drop: () => dropDatabase(server, database) };
  };

  const replayInto = (database: string, script: string | Readable, options: ReplayOptions = {}) =>
    replayDump(
      typeof script === 'string' ? chunked(script) : script,
      {
        host: source.host,
        port: source.port,
        user: source.access.user,
        password: source.access.password,
        database,
      },
      { role: source.user, ...options },
    );

  const as = async <T>(database: string, use: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ ...source, database });
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  };

  /** Tables, views, functions, types and large objects of a database (0 after a rollback). */
  const objects = (database: string) =>
    as(database, async (client) => {
      const { rows } = await client.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace
                  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))
              + (SELECT count(*) FROM pg_proc WHERE pronamespace <> 'pg_catalog'::regnamespace
                  AND pronamespace <> 'information_schema'::regnamespace)
              + (SELECT count(*) FROM pg_largeobject_metadata)
              + (SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%'
                  AND nspname NOT IN ('public', 'information_schema')) AS n`,
      );
      return Number(rows[0]!.n);
    });

  before(async () => {
    root = await makeTemp();
    server = await startPostgres(root);
    source = await makeInstanceDatabase(server, 'fixture', 'fixture-Secret-42');
    await as(source.database, fillFixture);
    expected = await as(source.database, fingerprint);
    dump = await dumpText(source);
  });

  after(async () => {
    await server.close();
    await removeTemp(root);
  });

  test('the fixture uses what a statement splitter gets wrong', () => {
    // What the dump must hold for this file to prove anything.
    assert.match(dump, /BEGIN ATOMIC\n UPDATE public\.stats SET/);
    assert.match(
      dump,
      /CREATE RULE kinds_view_insert AS\n {4}ON INSERT TO public\.kinds_view DO INSTEAD \( INSERT/,
    );
    assert.match(dump, /\nBEGIN;\n\nSELECT pg_catalog\.lo_open/);
    assert.match(dump, /\nCOMMIT;\n\n--\n/);
    assert.match(
      dump,
      /\nCOPY "odd; schema ""q"""\."table\nwith ""newline"" and ; semicolon" \("col\numn", "€"\) FROM stdin;\n/,
    );
    assert.match(dump, /^\\restrict [A-Za-z0-9]+$/m);
    assert.match(
      dump,
      /GENERATED ALWAYS AS \(\(\(price \* \(qty\)::numeric\) \+ \(1\)::numeric\)\)/,
      'virtual',
    );
    assert.match(dump, /CREATE STATISTICS public\.kinds_stats/);
    assert.match(dump, /CREATE POLICY "odd; policy"/);
    assert.match(dump, /ATTACH PARTITION public\.measures_2025_other DEFAULT;/);
    const tables = expected.tables as Record<string, { rows: number }>;
    assert.equal(tables['public.kinds']!.rows, 5);
    assert.equal(tables['public.child']!.rows, 2000);
    assert.equal((expected.largeObjects as unknown[]).length, 3);
  });

  test('every row and every definition comes back, in one query per run of entries or one per entry', async (t) => {
    for (const options of [{}, { batchEntries: 1 }, { batchBytes: 1 }] as ReplayOptions[]) {
      const target = await scratch();
      try {
        const started = Date.now();
        const result = await replayInto(target.database, dump, options);
        t.diagnostic(
          `${JSON.stringify(options)}: ${result.queries} queries, ${result.copiedRows} rows in ${Date.now() - started} ms`,
        );
        assert.deepEqual(result.skippedSettings, []);
        assert.equal(result.tables['public.kinds'], 5);
        assert.equal(
          result.tables['"odd; schema ""q"""."table\nwith ""newline"" and ; semicolon"'],
          3,
        );
        assert.deepEqual(await as(target.database, fingerprint), expected);
      } finally {
        await target.drop();
      }
    }
  });

  test('chunk boundaries anywhere give the same restore', async () => {
    const target = await scratch();
    try {
      // Odd sizes: chunks end inside lines, characters, COPY rows and the `\.` line.
      await replayInto(target.database, chunked(dump, 997));
      assert.deepEqual(await as(target.database, fingerprint), expected);
    } finally {
      await target.drop();
    }
  });

  test('one transaction: a failure after the large objects leaves nothing behind', async () => {
    // The failing entry comes after the large objects' BEGIN/COMMIT.
    const broken = dump.replace('REFRESH MATERIALIZED VIEW public.child_counts;', 'SELECT 1 / 0;');
    assert.notEqual(broken, dump);
    const line = broken.split('\n').indexOf('SELECT 1 / 0;') + 1;
    const target = await scratch();
    try {
      await assert.rejects(replayInto(target.database, broken), (error: Error) => {
        assert.equal((error as { code?: string }).code, 'RESTORE_FAILED');
        assert.match(error.message, /division by zero/);
        // Named by its entry's header line (alone, or as the last of a run of entries).
        assert.ok(
          error.message.includes(`${line - 4} (Name: child_counts; Type: MATERIALIZED VIEW DATA;`),
          error.message,
        );
        return true;
      });
      assert.equal(await objects(target.database), 0, 'no table, function or large object');
    } finally {
      await target.drop();
    }
  });

  test('a syntax error names its line and object', async () => {
    const broken = dump.replace(
      ' SELECT ((k).price * ((k).qty)::numeric);',
      ' SELECT ((k).price * ((k).qty)::numeric;',
    );
    assert.notEqual(broken, dump);
    const line = broken.split('\n').indexOf(' SELECT ((k).price * ((k).qty)::numeric;') + 1;
    const target = await scratch();
    try {
      await assert.rejects(replayInto(target.database, broken), (error: Error) => {
        assert.ok(
          error.message.startsWith(
            `the dump failed at line ${line} (Name: total_of(public.kinds); Type: FUNCTION; Schema: public; Owner: -) in "SELECT ((k).price`,
          ),
          error.message,
        );
        assert.match(error.message, /syntax error/);
        return true;
      });
      assert.equal(await objects(target.database), 0);
    } finally {
      await target.drop();
    }
  });

  test('a refused COPY row names its line', async () => {
    const broken = dump.replace(/^(2\t3\t2)$/m, '2\tnot a number\t2');
    const line = broken.split('\n').indexOf('2\tnot a number\t2') + 1;
    const target = await scratch();
    try {
      await assert.rejects(replayInto(target.database, broken), (error: Error) => {
        assert.ok(
          error.message.startsWith(
            `the dump failed at line ${line} (Data for Name: child; Type: TABLE DATA;`,
          ),
          error.message,
        );
        return true;
      });
      assert.equal(await objects(target.database), 0);
    } finally {
      await target.drop();
    }
  });

  test('a dump cut short is refused at its end, and nothing stays', async () => {
    const target = await scratch();
    try {
      for (const cut of [
        dump.slice(0, dump.indexOf('-- PostgreSQL database dump complete')),
        dump.slice(0, dump.indexOf('\\.\n', dump.indexOf('COPY public.child'))),
        dump.slice(0, dump.indexOf('CREATE RULE') + 40),
      ]) {
        await assert.rejects(replayInto(target.database, cut), (error: Error) => {
          assert.equal((error as { code?: string }).code, 'RESTORE_FAILED');
          assert.match(
            error.message,
            /cut short|ends inside the COPY block|syntax error at end of input/,
          );
          return true;
        });
        assert.equal(await objects(target.database), 0);
      }
    } finally {
      await target.drop();
    }
  });

  test("SQL that would end the transaction is refused; the preamble's unknown settings are skipped", async () => {
    const committing = dump.replace(
      'REFRESH MATERIALIZED VIEW public.child_counts;',
      'REFRESH MATERIALIZED VIEW public.child_counts;\nCOMMIT;',
    );
    const target = await scratch();
    try {
      await assert.rejects(
        replayInto(target.database, committing),
        /ended the restore's transaction/,
      );
    } finally {
      await target.drop();
    }
    const newer = dump.replace(
      'SET client_encoding',
      'SET parameter_of_postgresql_99 = on;\nSET client_encoding',
    );
    const again = await scratch();
    try {
      const result = await replayInto(again.database, newer);
      assert.deepEqual(result.skippedSettings, ['SET parameter_of_postgresql_99 = on;']);
      assert.deepEqual(await as(again.database, fingerprint), expected);
    } finally {
      await again.drop();
    }
  });

  test("a literal holding the dump's own lines never runs as SQL", async () => {
    // An app controls its comments: one that holds an entry header and a COPY line makes the
    // script ambiguous to any reader that does not parse SQL. The text before the look-alike
    // COPY ends inside the literal, so the server refuses it whole: nothing of it runs.
    const crafted = await makeInstanceDatabase(server, 'crafted', 'crafted-Secret-42');
    const client = new pg.Client(crafted);
    await client.connect();
    await client.query('CREATE TABLE t (a text)');
    await client.query(
      `COMMENT ON TABLE t IS E'x\\n--\\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -\\n--\\n\\nCOPY public.t (a) FROM stdin;\\n\\\\.\\nCREATE TABLE public.injected (x int);\\n'`,
    );
    await client.end();
    const craftedDump = await dumpText(crafted);
    const target = await scratch();
    try {
      await assert.rejects(replayInto(target.database, craftedDump), (error: Error) => {
        assert.match(error.message, /unterminated quoted string/);
        return true;
      });
      assert.equal(await objects(target.database), 0);
    } finally {
      await target.drop();
    }
  });
});
