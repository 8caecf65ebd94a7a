import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DumpScript, type ScriptPiece } from '../../src/core/backup/dump-script.js';

/** The shape of a pg_dump 18 plain script, with what a statement splitter gets wrong. */
const script = `--
-- PostgreSQL database dump
--

\\restrict abcDEF123

-- Dumped from database version 18.4
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: add_stat(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.add_stat(name text) RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 UPDATE public.stats SET n = (n + 1);
 SELECT 1;
END;


--
-- Name: COLUMN t.c; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.t.c IS 'looks like the dump:
COMMIT;
\\.
\\unrestrict nothing
';


--
-- Data for Name: odd; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public."odd
; name" (a, "b;
c") FROM stdin;
1\ttext with ; and ' and $$
\\\\.\t\\N
\\.


--
-- Data for Name: 16603..16605; Type: BLOBS; Schema: -; Owner: -
--

BEGIN;

SELECT pg_catalog.lo_open('16603', 131072);
SELECT pg_catalog.lo_close(0);

COMMIT;

--
-- PostgreSQL database dump complete
--

\\unrestrict abcDEF123

`;

const expected: ScriptPiece[] = [
  { kind: 'meta', text: '\\restrict abcDEF123', line: 5 },
  { kind: 'setting', sql: 'SET statement_timeout = 0;', line: 8 },
  { kind: 'setting', sql: "SET client_encoding = 'UTF8';", line: 9 },
  { kind: 'setting', sql: "SELECT pg_catalog.set_config('search_path', '', false);", line: 10 },
  {
    kind: 'sql',
    line: 12,
    title: 'Name: add_stat(text); Type: FUNCTION; Schema: public; Owner: -',
    sql: '--\n-- Name: add_stat(text); Type: FUNCTION; Schema: public; Owner: -\n--\n\nCREATE FUNCTION public.add_stat(name text) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n UPDATE public.stats SET n = (n + 1);\n SELECT 1;\nEND;\n\n',
  },
  {
    kind: 'sql',
    line: 24,
    title: 'Name: COLUMN t.c; Type: COMMENT; Schema: public; Owner: -',
    sql: "--\n-- Name: COLUMN t.c; Type: COMMENT; Schema: public; Owner: -\n--\n\nCOMMENT ON COLUMN public.t.c IS 'looks like the dump:\nCOMMIT;\n\\.\n\\unrestrict nothing\n';\n\n",
  },
  {
    kind: 'copy',
    line: 39,
    table: 'public."odd\n; name"',
    title: 'Data for Name: odd; Type: TABLE DATA; Schema: public; Owner: -',
    sql: 'COPY public."odd\n; name" (a, "b;\nc") FROM stdin;',
  },
  { kind: 'copy-data', data: "1\ttext with ; and ' and $$\n\\\\.\t\\N\n" },
  { kind: 'copy-end', rows: 2 },
  {
    kind: 'sql',
    line: 47,
    title: 'Data for Name: 16603..16605; Type: BLOBS; Schema: -; Owner: -',
    // BEGIN; and COMMIT; are gone, their lines kept empty; the closing comment is the last
    // entry's.
    sql: "--\n-- Data for Name: 16603..16605; Type: BLOBS; Schema: -; Owner: -\n--\n\n\n\nSELECT pg_catalog.lo_open('16603', 131072);\nSELECT pg_catalog.lo_close(0);\n\n\n\n--\n-- PostgreSQL database dump complete\n--\n",
  },
  { kind: 'meta', text: '\\unrestrict abcDEF123', line: 62 },
];

/** Parses in chunks of `size`, joining adjacent copy-data pieces (their split is arbitrary). */
function parse(text: string, size: number): ScriptPiece[] {
  const parser = new DumpScript();
  const pieces: ScriptPiece[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(...parser.push(text.slice(i, i + size)));
  pieces.push(...parser.end());
  const joined: ScriptPiece[] = [];
  for (const piece of pieces) {
    const last = joined.at(-1);
    if (piece.kind === 'copy-data' && last?.kind === 'copy-data') last.data += piece.data;
    else joined.push({ ...piece });
  }
  return joined;
}

describe('DumpScript', () => {
  test('cuts only at COPY data and meta-commands; entries stay whole', () => {
    assert.deepEqual(parse(script, script.length), expected);
  });

  test('gives the same pieces whatever the chunk boundaries', () => {
    for (const size of [1, 2, 3, 5, 7, 13, 64, 100]) {
      assert.deepEqual(parse(script, size), expected, `chunks of ${size}`);
    }
  });

  test('a script cut short throws at the end', () => {
    const cuts = [
      script.slice(0, script.indexOf('-- PostgreSQL database dump complete')),
      script.slice(0, script.indexOf('\\.\n\n\n--\n-- Data for Name: 1660')),
      script.slice(0, script.indexOf(' FROM stdin;')),
    ];
    for (const cut of cuts) {
      const parser = new DumpScript();
      parser.push(cut);
      assert.throws(() => parser.end(), /cut short|ends inside the COPY block/);
    }
  });

  test('COPY data is passed on as it comes, not held until the block ends', () => {
    const parser = new DumpScript();
    const header = '--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n';
    const first = parser.push(`${header}COPY public.t (a) FROM stdin;\n1\n2\n3`);
    assert.deepEqual(first, [
      {
        kind: 'copy',
        sql: 'COPY public.t (a) FROM stdin;',
        table: 'public.t',
        line: 5,
        title: 'Data for Name: t; Type: TABLE DATA; Schema: public; Owner: -',
      },
      { kind: 'copy-data', data: '1\n2\n' },
    ]);
    assert.deepEqual(parser.push('\n\\.\n'), [
      { kind: 'copy-data', data: '3\n' },
      { kind: 'copy-end', rows: 3 },
    ]);
  });

  test('a meta-command counts only with the dump’s key; BEGIN/COMMIT go only from large objects', () => {
    const parser = new DumpScript();
    const pieces = [
      ...parser.push(
        '\\restrict K1\n--\n-- Name: t; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE t ();\n\\unrestrict K2\nCOMMIT;\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict K1\n',
      ),
      ...parser.end(),
    ];
    assert.deepEqual(
      pieces.map((piece) => (piece.kind === 'sql' ? piece.sql.split('\n').slice(4) : piece.kind)),
      [
        'meta',
        [
          'CREATE TABLE t ();',
          '\\unrestrict K2',
          'COMMIT;',
          '--',
          '-- PostgreSQL database dump complete',
          '--',
          '',
        ],
        'meta',
      ],
    );
  });
});
