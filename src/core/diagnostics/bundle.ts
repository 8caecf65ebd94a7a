import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { create as createTar } from 'tar';

/** What goes into a diagnostics archive. */
export interface DiagnosticsInput {
  /** `<data>/logs`: every file in it is included, with secrets replaced. */
  logsDir: string;
  /** JSON documents by file name (`status.json`, ...); secret-looking fields are removed. */
  documents: Record<string, unknown>;
  /** Exact secret values (passwords, keys) replaced wherever they appear. */
  secrets: string[];
}

/** Field names whose values are secrets and never go into the archive. */
const secretField = /pass(word|phrase)?|secret|token|hash|private|credential|api[-_]?key|^key$/i;
const removed = '[removed]';
/** Query parameters that carry credentials besides the secret-looking names above. */
const secretParameter = /^(auth|authorization|sig|signature|access[-_]?key)$/i;

/** URLs with credentials: `scheme://user:password@` (or a token as the user). */
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
/** A query parameter `?name=value` or `&name=value`. */
const queryParameter = /([?&])([^=&#\s"'<>]+)=([^&#\s"'<>]*)/g;

/** A copy of `value` without secret-looking fields and with known secrets replaced. */
export function scrub(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        secretField.test(key) && item !== null && item !== '' ? removed : scrub(item, secrets);
    }
    return out;
  }
  return value;
}

/**
 * `text` with every known secret, PEM private keys, the credentials of URLs (`user:password@`)
 * and the values of secret-looking query parameters (`?token=…`) replaced.
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text
    .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, removed)
    .replace(urlCredentials, `$1${removed}@`)
    .replace(queryParameter, (whole, separator: string, name: string, value: string) =>
      value !== '' && (secretField.test(name) || secretParameter.test(name))
        ? `${separator}${name}=${removed}`
        : whole,
    );
  // Longest first, so that a secret holding another is replaced whole.
  for (const secret of [...secrets]
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length))
    out = out.split(secret).join(removed);
  return out;
}

async function filesUnder(root: string, relative = ''): Promise<string[]> {
  const entries = await readdir(join(root, relative), { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(relative, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(root, path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

async function readScrubbed(path: string, secrets: readonly string[]): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path)) chunks.push(chunk as Buffer);
  return scrubText(Buffer.concat(chunks).toString('utf8'), secrets);
}

/**
 * Builds a diagnostics archive (tar.gz): `logs/...` and the given JSON documents, all with
 * secrets removed. The files are staged in a temporary folder that is removed once the
 * archive has been read (or failed); logs are capped by their rotation, so staging is bounded.
 */
export async function diagnosticsArchive(input: DiagnosticsInput): Promise<Readable> {
  const staging = await mkdtemp(join(tmpdir(), 'appvisor-diagnostics-'));
  try {
    const root = join(staging, 'appvisor-diagnostics');
    await mkdir(join(root, 'logs'), { recursive: true, mode: 0o700 });
    for (const file of await filesUnder(input.logsDir)) {
      const source = join(input.logsDir, file);
      if (!(await stat(source)).isFile()) continue;
      const target = join(root, 'logs', file);
      await mkdir(join(target, '..'), { recursive: true });
      await writeFile(target, await readScrubbed(source, input.secrets), { mode: 0o600 });
    }
    for (const [name, document] of Object.entries(input.documents)) {
      const text = `${JSON.stringify(scrub(document, input.secrets), null, 2)}\n`;
      await writeFile(join(root, name), text, { mode: 0o600 });
    }
    const stream = createTar({ gzip: true, cwd: staging, portable: true }, [
      'appvisor-diagnostics',
    ]) as unknown as Readable;
    const cleanup = () => void rm(staging, { recursive: true, force: true });
    stream.once('end', cleanup);
    stream.once('error', cleanup);
    stream.once('close', cleanup);
    return stream;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
