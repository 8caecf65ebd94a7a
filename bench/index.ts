/**
 * `npm run bench -- <name>`: measures, prints a table. Benchmarks are not tests: they check
 * nothing, and their figures go to docs/PERFORMANCE.md.
 */
import { backup } from './backup.js';
import { backupRemote } from './backup-remote.js';
import { cluster } from './cluster.js';
import { front } from './front.js';
import { instances } from './instances.js';
import { sdkHttp } from './sdk-http.js';
import { sdkTrace } from './sdk-trace.js';
import { supervise } from './supervise.js';

const benchmarks: Record<string, () => Promise<void>> = {
  supervise,
  instances,
  front,
  backup,
  'backup-remote': backupRemote,
  cluster,
  'sdk-http': sdkHttp,
  'sdk-trace': sdkTrace,
};

const name = process.argv[2];
const run = name ? benchmarks[name] : undefined;
if (!run) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benchmarks).join('|')}>\n`);
  process.exit(2);
}
await run();
process.exit(0);
