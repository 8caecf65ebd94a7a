/**
 * Loads pg_dump 18 compiled to WebAssembly from `@electric-sql/pglite-tools`.
 *
 * The package exports only a `pgDump()` that runs against an in-process PGlite and reads the
 * whole dump into memory; the Emscripten module factory underneath is not exported. So the
 * factory is taken from the package's own bundle: the chunk that `dist/pg_dump.js` imports is
 * imported again as a `data:` module with one export added. Every step checks what it expects
 * and fails with the package version in the message, so an upgrade that changes the layout is
 * caught at once instead of misbehaving.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package whose pg_dump build is used. */
export const pgDumpPackage = '@electric-sql/pglite-tools';

/** The Emscripten stream operations of a device (the parts used here). */
export interface DeviceOps {
  open?: (stream: unknown) => void;
  close?: (stream: unknown) => void;
  read?: (stream: unknown, buffer: Uint8Array, offset: number, length: number) => number;
  write: (
    stream: unknown,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position?: number,
  ) => number;
  llseek?: (stream: unknown, offset: number, whence: number) => number;
  fsync?: (stream: unknown) => number;
}

/** The parts of the Emscripten module that the dump uses. */
export interface PgDumpModule {
  HEAPU8: Uint8Array;
  ENV: Record<string, string>;
  FS: {
    mkdirTree(path: string, mode?: number): void;
    writeFile(path: string, data: string | Uint8Array, options?: { mode?: number }): void;
    chmod(path: string, mode: number): void;
    makedev(major: number, minor: number): number;
    registerDevice(dev: number, ops: DeviceOps): void;
    mkdev(path: string, mode: number, dev: number): unknown;
  };
  addFunction(fn: (pointer: number, length: number) => number, signature: string): number;
  _pgl_set_rw_cbs(read: number, write: number): void;
  callMain(args: string[]): number;
}

/** Options given to the factory (Emscripten `Module` overrides). */
export interface PgDumpModuleOptions {
  noExitRuntime: boolean;
  thisProgram: string;
  wasmBinary: Uint8Array;
  locateFile: (name: string) => string;
  print: (text: string) => void;
  printErr: (text: string) => void;
  onExit: (status: number) => void;
  /**
   * Run before the runtime starts. The C library copies `ENV` into `environ` while it
   * starts, so variables must be set here; later changes are not seen.
   */
  preRun: ((module: PgDumpModule) => void)[];
}

type Factory = (options: PgDumpModuleOptions) => Promise<PgDumpModule>;

/** Where the package is and which version it is. */
interface PackageFiles {
  dist: string;
  version: string;
}

async function packageFiles(): Promise<PackageFiles> {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(`${pgDumpPackage}/pg_dump`));
  } catch (error) {
    throw new Error(`cannot find ${pgDumpPackage}: is it installed?`, { cause: error });
  }
  const dist = dirname(entry);
  let version = 'unknown';
  try {
    const manifest = JSON.parse(await readFile(join(dist, '..', 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    if (typeof manifest.version === 'string') version = manifest.version;
  } catch {
    // Reported through the version in any later error.
  }
  return { dist, version };
}

/**
 * The Emscripten MODULARIZE wrapper: `var NAME=(()=>{var _scriptName=import.meta.url;return
 * async function(moduleArg={}){...`. Matching Emscripten's own output rather than the
 * package's minified call site keeps this stable across rebuilds of the package.
 */
const factoryPattern =
  /(?:^|[;\s])var (\w+)=\(\(\)=>\{var _scriptName=import\.meta\.url;return async function\(moduleArg=\{\}\)/;

let loaded: Promise<{ factory: Factory; files: PackageFiles; wasm: Uint8Array }> | undefined;

async function load(): Promise<{ factory: Factory; files: PackageFiles; wasm: Uint8Array }> {
  const files = await packageFiles();
  const fail = (what: string, cause?: unknown): Error =>
    new Error(
      `cannot load pg_dump from ${pgDumpPackage}@${files.version} (appvisor expects its exact pinned version): ${what}`,
      { cause },
    );
  let entryText: string;
  try {
    entryText = await readFile(join(files.dist, 'pg_dump.js'), 'utf8');
  } catch (error) {
    throw fail('dist/pg_dump.js is missing', error);
  }
  const chunkName = /from\s*"\.\/([\w.-]+\.js)"/.exec(entryText)?.[1];
  if (!chunkName) throw fail('dist/pg_dump.js no longer imports a bundle chunk');
  let source: string;
  try {
    source = await readFile(join(files.dist, chunkName), 'utf8');
  } catch (error) {
    throw fail(`dist/${chunkName} cannot be read`, error);
  }
  const name = factoryPattern.exec(source)?.[1];
  if (!name) throw fail(`no Emscripten module factory found in dist/${chunkName}`);
  let wasm: Uint8Array;
  try {
    wasm = await readFile(join(files.dist, 'pg_dump.wasm'));
  } catch (error) {
    throw fail('dist/pg_dump.wasm cannot be read', error);
  }
  // The source map comment would point nowhere; sourceURL keeps stack traces short instead of
  // quoting the whole data: URL.
  const patched = `${source.replace(/^\/\/# sourceMappingURL=.*$/m, '')}\nexport { ${name} as pgDumpFactory };\n//# sourceURL=${pgDumpPackage}/dist/${chunkName}\n`;
  let namespace: { pgDumpFactory?: unknown };
  try {
    namespace = (await import(
      `data:text/javascript;base64,${Buffer.from(patched).toString('base64')}`
    )) as { pgDumpFactory?: unknown };
  } catch (error) {
    throw fail(`dist/${chunkName} cannot be imported: ${(error as Error).message}`, error);
  }
  if (typeof namespace.pgDumpFactory !== 'function') {
    throw fail(`the factory found in dist/${chunkName} is not a function`);
  }
  return { factory: namespace.pgDumpFactory as Factory, files, wasm };
}

/** A started pg_dump module and the package version it came from. */
export interface LoadedPgDump {
  module: PgDumpModule;
  version: string;
}

/**
 * Instantiates a fresh pg_dump module (one per run: `main` exits it), checked for every
 * function the dump uses. Its `main` has not run yet.
 */
export async function instantiatePgDump(
  options: Omit<PgDumpModuleOptions, 'wasmBinary' | 'locateFile'>,
): Promise<LoadedPgDump> {
  loaded ??= load();
  let state: Awaited<typeof loaded>;
  try {
    state = await loaded;
  } catch (error) {
    loaded = undefined;
    throw error;
  }
  const { factory, files, wasm } = state;
  let module: PgDumpModule;
  try {
    module = await factory({
      ...options,
      wasmBinary: wasm,
      locateFile: (file) => join(files.dist, file),
    });
  } catch (error) {
    throw new Error(
      `cannot start pg_dump from ${pgDumpPackage}@${files.version}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const kinds: [string, string][] = [
    ['_pgl_set_rw_cbs', typeof module._pgl_set_rw_cbs],
    ['addFunction', typeof module.addFunction],
    ['callMain', typeof module.callMain],
    ['FS.registerDevice', typeof module.FS.registerDevice],
    ['FS.mkdev', typeof module.FS.mkdev],
  ];
  const missing = kinds.filter(([, kind]) => kind !== 'function').map(([key]) => key);
  if (missing.length > 0 || typeof module.ENV !== 'object') {
    throw new Error(
      `cannot use pg_dump from ${pgDumpPackage}@${files.version}: the module lacks ${missing.join(', ') || 'ENV'}`,
    );
  }
  return { module, version: files.version };
}
