// Makes the app package in dist/notes-ts: app.json, run, and the compiled service (what
// `appvisor app install dist/notes-ts` takes; the folder's name is the app id). Runs after tsc (npm run build).
import { chmod, copyFile, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'notes-ts');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await copyFile(join(here, 'app.json'), join(out, 'app.json'));
await copyFile(join(here, 'run'), join(out, 'run'));
await chmod(join(out, 'run'), 0o755);
await cp(join(here, 'dist', 'src'), out, {
  recursive: true,
  filter: (source) => !source.endsWith('.map'),
});
// The compiled files are ES modules.
await writeFile(join(out, 'package.json'), '{ "type": "module" }\n');
