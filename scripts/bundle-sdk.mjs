// Bundles the SDK and its dependencies (pg, ws) into one self-contained file,
// dist/sdk/appvisor-sdk.mjs: the manager hands it to services (APPVISOR_SDK), and app authors
// may vendor it. Run by `npm run build`.
import { build } from 'esbuild';

const { metafile } = await build({
  entryPoints: ['src/sdk/index.ts'],
  outfile: 'dist/sdk/appvisor-sdk.mjs',
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
});

// The SDK shares only pure files of src/lib with the manager (the eslint rule checks its own
// imports; this checks what those files bring along): nothing else of the manager, no zod.
const shared = /^src\/(sdk\/.*|lib\/(service-protocol|app-login|pg-errors|http-json))\.ts$/;
const foreign = new Set(
  Object.keys(metafile.inputs)
    .map((input) => input.replace(/^(.*\/)?node_modules\/zod\/.*$/, 'zod'))
    .filter((input) => input === 'zod' || (input.startsWith('src/') && !shared.test(input))),
);
if (foreign.size > 0) {
  process.stderr.write(`the SDK bundle must not contain: ${[...foreign].join(', ')}\n`);
  process.exit(1);
}
