// Builds examples/notes-ts the way its author would after `npm install` in that folder: the
// `appvisor` dev dependency (file:../..) is a link to this checkout, so the example compiles
// against the shipped declarations in dist/sdk/ and its tests load the shipped bundles. Run by
// `npm run build`, after the SDK bundle.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';

const example = 'examples/notes-ts';
const link = join(example, 'node_modules', 'appvisor');
const target = join('..', '..', '..');
const current = await lstat(link).then(
  (stat) => (stat.isSymbolicLink() ? readlink(link) : 'not a link'),
  () => undefined,
);
if (current !== target) {
  await rm(link, { recursive: true, force: true });
  await mkdir(join(example, 'node_modules'), { recursive: true });
  await symlink(target, link, 'dir');
}
execFileSync(
  process.execPath,
  ['node_modules/typescript/bin/tsc', '-p', `${example}/tsconfig.json`],
  {
    stdio: 'inherit',
  },
);
execFileSync(process.execPath, [`${example}/pack.mjs`], { stdio: 'inherit' });
