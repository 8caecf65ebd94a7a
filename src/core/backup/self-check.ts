import { AppvisorError } from '../errors/index.js';
import { dumpConninfo, type DumpSource } from './dump.js';
import { runPgDump } from './pg-dump-run.js';
import { dumpDevicePath } from './worker-protocol.js';

/** What {@link selfCheck} found. */
export interface SelfCheckReport {
  /** `pg_dump --version`'s answer, e.g. `pg_dump (PostgreSQL) 18.3`. */
  version: string;
  /** Whether a schema-only dump of the given database succeeded (false when none was given). */
  dumped: boolean;
}

/**
 * Proves that the WebAssembly pg_dump works here: it loads and answers `--version`, and, when
 * a source is given, connects and dumps that database's schema completely. Throws an
 * `AppvisorError` `DUMP_FAILED` with the reason otherwise.
 */
export async function selfCheck(
  source?: DumpSource,
  options: { signal?: AbortSignal } = {},
): Promise<SelfCheckReport> {
  const signal = options.signal ? { signal: options.signal } : {};
  const versionRun = runPgDump({ args: ['--version'], ...signal });
  versionRun.output.resume();
  const { stdout } = await versionRun.result;
  const version = stdout.trim();
  if (!/^pg_dump \(PostgreSQL\) 18\b/.test(version)) {
    throw new AppvisorError('DUMP_FAILED', `unexpected pg_dump version: ${version || 'none'}`);
  }
  if (!source) return { version, dumped: false };
  const dump = runPgDump({
    args: [
      '--schema-only',
      '--no-owner',
      '--no-privileges',
      '--no-password',
      '--no-sync',
      `--file=${dumpDevicePath}`,
      `--dbname=${dumpConninfo(source)}`,
    ],
    password: source.password,
    server: { host: source.host, port: source.port },
    ...signal,
  });
  // A schema is small, but read it as a stream all the same; only its two ends matter.
  let head = '';
  let tail = '';
  for await (const chunk of dump.output) {
    const text = (chunk as Buffer).toString('utf8');
    if (head.length < 200) head += text.slice(0, 200);
    tail = (tail + text).slice(-200);
  }
  await dump.result;
  if (!head.includes('PostgreSQL database dump') || !tail.includes('dump complete')) {
    throw new AppvisorError('DUMP_FAILED', 'the test dump is incomplete');
  }
  return { version, dumped: true };
}
