// Bundles the SDK and its dependencies (pg, ws) into one self-contained file,
// dist/sdk/appvisor-sdk.mjs: the manager hands it to services (APPVISOR_SDK), and app authors
// may vendor it. Beside it: the test kit, dist/sdk/appvisor-sdk-testing.mjs (it loads the SDK
// from its neighbour, so a service under test and the kit share one SDK), and the declarations
// of both (appvisor-sdk.d.mts, appvisor-sdk-testing.d.mts, and the folder types/ they point
// into). Run by `npm run build`, after tsc (whose declarations it copies).
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const out = 'dist/sdk';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // pg loads pg-native only when asked to; ws's optional native helpers likewise.
  external: ['pg-native', 'bufferutil', 'utf-8-validate'],
  // CommonJS dependencies call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __appvisorRequire } from 'node:module'; const require = __appvisorRequire(import.meta.url);",
  },
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
};

const sdk = await build({
  ...common,
  entryPoints: ['src/sdk/index.ts'],
  outfile: `${out}/appvisor-sdk.mjs`,
});

/** The kit's imports of the SDK itself go to the SDK bundle beside it. */
const sdkFromNeighbour = {
  name: 'sdk-from-neighbour',
  setup(builder) {
    builder.onResolve({ filter: /^\.\.\/[a-z-]+\.js$/ }, (args) =>
      args.importer.includes('/src/sdk/testing/')
        ? { path: './appvisor-sdk.mjs', external: true }
        : undefined,
    );
  },
};

const testing = await build({
  ...common,
  entryPoints: ['src/sdk/testing/index.ts'],
  outfile: `${out}/appvisor-sdk-testing.mjs`,
  plugins: [sdkFromNeighbour],
});

// The SDK shares only pure files of src/lib with the manager (the eslint rule checks its own
// imports; this checks what those files bring along): nothing else of the manager, no zod. The
// kit may also use the files that find and run PostgreSQL's programs as another user.
const allowed = {
  sdk: /^src\/(sdk\/.*|lib\/(service-protocol|app-login|pg-errors|http-json))\.ts$/,
  testing:
    /^src\/(sdk\/testing\/.*|lib\/(service-protocol|postgres-binaries|os-users|folder-access))\.ts$/,
};
for (const [name, { metafile }] of [
  ['sdk', sdk],
  ['testing', testing],
]) {
  const foreign = new Set(
    Object.keys(metafile.inputs)
      .map((input) => input.replace(/^(.*\/)?node_modules\/zod\/.*$/, 'zod'))
      .filter(
        (input) => input === 'zod' || (input.startsWith('src/') && !allowed[name].test(input)),
      ),
  );
  if (foreign.size > 0) {
    process.stderr.write(`the ${name} bundle must not contain: ${[...foreign].join(', ')}\n`);
    process.exit(1);
  }
}

// Declarations: tsc's for src/sdk, and for the files of src/lib the bundles hold, in a folder
// of the same layout, so their relative imports hold. They import 'pg' and 'ws' (and node:),
// whose types the package depends on (@types/pg, @types/ws).
const types = join(out, 'types');
await rm(types, { recursive: true, force: true });
await cp('dist/src/sdk', join(types, 'sdk'), {
  recursive: true,
  filter: (source) => !/\.(js|js\.map)$/.test(source),
});
const libFiles = new Set(
  [sdk, testing].flatMap(({ metafile }) =>
    Object.keys(metafile.inputs).filter((input) => input.startsWith('src/lib/')),
  ),
);
for (const file of libFiles) {
  const name = file.replace(/^src\/lib\/(.*)\.ts$/, '$1.d.ts');
  await mkdir(join(types, 'lib'), { recursive: true });
  await cp(join('dist/src/lib', name), join(types, 'lib', name));
}
// The declarations are ES modules wherever the folder is copied to.
await writeFile(join(types, 'package.json'), '{ "type": "module" }\n');
await writeFile(
  join(out, 'appvisor-sdk.d.mts'),
  "// The appvisor SDK's types (docs/sdk.md).\nexport * from './types/sdk/index.js';\n",
);
await writeFile(
  join(out, 'appvisor-sdk-testing.d.mts'),
  "// The test kit's types (docs/sdk.md, \"Testing a service\").\nexport * from './types/sdk/testing/index.js';\n",
);

// Every relative import of a copied declaration must land in the folder: else an app would
// see `any` where a type went missing.
async function* declarations(folder) {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* declarations(path);
    else if (entry.name.endsWith('.d.ts')) yield path;
  }
}
const missing = [];
for await (const file of declarations(types)) {
  const text = await readFile(file, 'utf8');
  for (const [, spec] of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.d.ts'));
    const exists = await readFile(target).then(
      () => true,
      () => false,
    );
    if (!exists) missing.push(`${relative('.', file)} -> ${spec}`);
  }
}
if (missing.length > 0) {
  process.stderr.write(`SDK declarations import what is not shipped:\n${missing.join('\n')}\n`);
  process.exit(1);
}
