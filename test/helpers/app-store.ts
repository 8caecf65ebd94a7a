/**
 * App stores for tests: a signing key and `appvisor store build` through the CLI, small app
 * packages, and a plain static HTTP server for the store folder that can also misbehave
 * (stall, cut off, answer 500 or junk, or send a package slowly).
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTarGz } from './archives.js';
import { cli } from './daemon.js';

/** What the server does wrong for a file: 'slow' sends half, waits a second, then the rest. */
export type Fault = 'stall' | 'cut' | 500 | 'junk' | 'slow';

/** A static file server for a store folder, with faults by file name. */
export class StaticStore {
  readonly faults = new Map<string, Fault>();
  readonly requests: string[] = [];
  #server: Server | undefined;
  readonly #held = new Set<ServerResponse>();

  constructor(readonly folder: string) {}

  async start(): Promise<void> {
    this.#server = createServer((request, response) => {
      const name = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname.slice(1));
      this.requests.push(name);
      const fault = this.faults.get(name);
      if (fault === 500) {
        response.writeHead(500).end('broken');
        return;
      }
      if (fault === 'junk') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"apps": [ oops');
        return;
      }
      const path = join(this.folder, name);
      stat(path).then(
        async (info) => {
          if (!info.isFile()) throw new Error('not a file');
          response.writeHead(200, { 'content-length': info.size });
          if (fault === undefined) {
            createReadStream(path).pipe(response);
            return;
          }
          const bytes = await readFile(path);
          const half = Math.floor(bytes.length / 2);
          response.write(bytes.subarray(0, half));
          if (fault === 'cut') setTimeout(() => response.destroy(), 100);
          else if (fault === 'stall') this.#held.add(response);
          else {
            this.#held.add(response);
            await sleep(1000);
            this.#held.delete(response);
            response.end(bytes.subarray(half));
          }
        },
        () => {
          response.writeHead(404).end('no such file');
        },
      );
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
  }

  url(name = 'apps.json'): string {
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}/${name}`;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    for (const response of this.#held) response.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** `appvisor store keygen`: writes the private key to `path`, answers the public key. */
export async function storeKeygen(path: string): Promise<string> {
  const made = await cli(['store', 'keygen', path]);
  assert.equal(made.code, 0, made.stderr);
  const publicKey = made.stdout.trim();
  assert.match(publicKey, /^[A-Za-z0-9_-]{43}$/);
  return publicKey;
}

/** `appvisor store build` of a folder, signed with the key at `key` when given. */
export async function buildStoreFolder(folder: string, key?: string): Promise<string> {
  const built = await cli(['store', 'build', folder, ...(key ? ['--key', key] : [])]);
  assert.equal(built.code, 0, built.stderr);
  return built.stdout;
}

/** A package (`.tar.gz`) of an app `id` whose `run` is `script`, with the given app.json. */
export async function makeStorePackage(
  path: string,
  id: string,
  manifest: Record<string, unknown>,
  options: { script?: string; files?: { name: string; content: string }[] } = {},
): Promise<string> {
  // By default a process that idles until it is stopped.
  const script =
    options.script ?? "#!/bin/sh\ntrap 'exit 0' TERM\nwhile true; do sleep 1 & wait $!; done\n";
  await makeTarGz(path, [
    { name: `${id}/`, type: 'dir' },
    { name: `${id}/run`, mode: 0o755, content: script },
    { name: `${id}/app.json`, content: JSON.stringify(manifest) },
    ...(options.files ?? []).map((file) => ({ name: `${id}/${file.name}`, content: file.content })),
  ]);
  return path;
}

/** A signed store served from a folder of its own: where packages go, its key, its server. */
export interface SignedStore {
  /** The folder served (packages and the built index). */
  folder: string;
  /** The private key's file, for {@link buildStoreFolder}. */
  key: string;
  publicKey: string;
  server: StaticStore;
}

/**
 * Makes `<work>/store`, a signing key and a started {@link StaticStore} for it; the caller
 * closes the server. Add it to a daemon with `store add <name> <server.url()> --key <publicKey>`.
 */
export async function startSignedStore(work: string): Promise<SignedStore> {
  const folder = join(work, 'store');
  await mkdir(folder);
  const key = join(work, 'store.key');
  const publicKey = await storeKeygen(key);
  const server = new StaticStore(folder);
  await server.start();
  return { folder, key, publicKey, server };
}
