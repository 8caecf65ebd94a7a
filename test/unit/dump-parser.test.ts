import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DumpParser, type DumpPiece } from '../../src/core/backup/dump-parser.js';

/** The shape of a pg_dump 18 plain script, with the cases a splitter gets wrong. */
const script = `--
-- PostgreSQL database dump
--

\\restrict abcDEF123

-- Dumped from database version 18.4
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: mood; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.mood AS ENUM (
    'sad',
    'it''s ok; really'
);

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
  NEW.note := 'changed; $1 $$ not the end';
  RETURN NEW;
END;
$_$;

COMMENT ON TABLE public."odd;name" IS 'a comment -- with dashes /* and a star */';

CREATE VIEW public.v AS
 SELECT E'esc\\'aped; still' AS a, /* block; /* nested; */ comment */ 2 AS "b;";

COPY public.items (id, note, data) FROM stdin;
1\ttext with ; and ' and $$\t\\\\x00ff
2\tline\\nbreak\t\\N
\\.

SELECT pg_catalog.setval('public.items_id_seq', 42, true);

\\unrestrict abcDEF123
`;

const expected: DumpPiece[] = [
  { kind: 'meta', line: '\\restrict abcDEF123' },
  { kind: 'statement', sql: 'SET statement_timeout = 0;' },
  { kind: 'statement', sql: "SET client_encoding = 'UTF8';" },
  { kind: 'statement', sql: 'SET standard_conforming_strings = on;' },
  { kind: 'statement', sql: "SELECT pg_catalog.set_config('search_path', '', false);" },
  {
    kind: 'statement',
    sql: "CREATE TYPE public.mood AS ENUM (\n    'sad',\n    'it''s ok; really'\n);",
  },
  {
    kind: 'statement',
    sql: "CREATE FUNCTION public.touch() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n  NEW.note := 'changed; $1 $$ not the end';\n  RETURN NEW;\nEND;\n$_$;",
  },
  {
    kind: 'statement',
    sql: `COMMENT ON TABLE public."odd;name" IS 'a comment -- with dashes /* and a star */';`,
  },
  {
    kind: 'statement',
    sql: `CREATE VIEW public.v AS\n SELECT E'esc\\'aped; still' AS a, /* block; /* nested; */ comment */ 2 AS "b;";`,
  },
  { kind: 'copy', sql: 'COPY public.items (id, note, data) FROM stdin;' },
  {
    kind: 'copy-data',
    data: "1\ttext with ; and ' and $$\t\\\\x00ff\n2\tline\\nbreak\t\\N\n",
  },
  { kind: 'copy-end' },
  { kind: 'statement', sql: "SELECT pg_catalog.setval('public.items_id_seq', 42, true);" },
  { kind: 'meta', line: '\\unrestrict abcDEF123' },
];

/** Parses in chunks of `size`, joining adjacent copy-data pieces (their split is arbitrary). */
function parse(text: string, size: number): DumpPiece[] {
  const parser = new DumpParser();
  const pieces: DumpPiece[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(...parser.push(text.slice(i, i + size)));
  pieces.push(...parser.end());
  const joined: DumpPiece[] = [];
  for (const piece of pieces) {
    const last = joined.at(-1);
    if (piece.kind === 'copy-data' && last?.kind === 'copy-data') last.data += piece.data;
    else joined.push({ ...piece });
  }
  return joined;
}

describe('DumpParser', () => {
  test('splits a pg_dump script into statements, COPY data and meta-commands', () => {
    assert.deepEqual(parse(script, script.length), expected);
  });

  test('gives the same pieces whatever the chunk boundaries', () => {
    for (const size of [1, 2, 3, 5, 7, 13, 64, 100]) {
      assert.deepEqual(parse(script, size), expected, `chunks of ${size}`);
    }
  });

  test('a truncated script throws at the end', () => {
    for (const cut of [
      'CREATE TABLE t (a int',
      "SELECT 'open",
      'COPY t (a) FROM stdin;\n1\n',
      'SELECT $$x',
    ]) {
      const parser = new DumpParser();
      parser.push(cut);
      assert.throws(() => parser.end(), /ends inside/, cut);
    }
    const fine = new DumpParser();
    fine.push('SELECT 1;\n-- trailing comment\n');
    assert.doesNotThrow(() => fine.end());
  });

  test('COPY data is passed on as it comes, not held until the block ends', () => {
    const parser = new DumpParser();
    const first = parser.push('COPY t (a) FROM stdin;\n1\n2\n3');
    assert.deepEqual(first, [
      { kind: 'copy', sql: 'COPY t (a) FROM stdin;' },
      { kind: 'copy-data', data: '1\n2\n' },
    ]);
    assert.deepEqual(parser.push('\n\\.\n'), [
      { kind: 'copy-data', data: '3\n' },
      { kind: 'copy-end' },
    ]);
  });
});
