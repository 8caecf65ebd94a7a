/**
 * Reading backup archives (archive.ts writes them): the manifest alone, or every member
 * unpacked and checked against its digest in the manifest.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as extractTar, Parser, type ReadEntry } from 'tar';
import {
  CipherError,
  createDecryptStream,
  createLayoutCheck,
  isEncrypted,
} from '../../lib/stream-cipher.js';
import { AppvisorError } from '../errors/index.js';
import {
  archiveFormat,
  Digest,
  memberNames,
  type BackupManifest,
  type MemberDigest,
} from './archive.js';

function invalid(path: string, why: string): AppvisorError {
  return new AppvisorError('BACKUP_INVALID', `${path}: ${why}`);
}

async function firstBytes(path: string, count: number): Promise<Buffer> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AppvisorError('BACKUP_NOT_FOUND', `no backup at ${path}`);
    }
    throw error;
  });
  try {
    const buffer = Buffer.alloc(count);
    const { bytesRead } = await handle.read(buffer, 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The archive's bytes after decryption (when it is encrypted). */
async function archiveStream(path: string, passphrase: string | undefined): Promise<Readable> {
  const encrypted = isEncrypted(await firstBytes(path, 16));
  if (encrypted && !passphrase) {
    throw new AppvisorError('PASSPHRASE_WRONG', `${path} is encrypted: give its passphrase`);
  }
  const file = createReadStream(path);
  if (!encrypted) return file;
  const out = new PassThrough();
  const decrypt = createDecryptStream(passphrase!);
  file.on('error', (error) => out.destroy(error));
  decrypt.on('error', (error) => out.destroy(error));
  return file.pipe(decrypt).pipe(out);
}

function mapError(path: string, error: unknown): unknown {
  if (error instanceof CipherError) {
    return error.reason === 'passphrase'
      ? new AppvisorError('PASSPHRASE_WRONG', `the passphrase of ${path} is wrong`)
      : invalid(path, `damaged (${error.message})`);
  }
  if (error instanceof AppvisorError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new AppvisorError('BACKUP_NOT_FOUND', `no backup at ${path}`);
  if (typeof code === 'string' && code.startsWith('TAR_'))
    return invalid(path, 'not a tar archive or cut short');
  return error;
}

function parseManifest(path: string, text: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(path, 'manifest.json is not JSON');
  }
  const manifest = (value ?? {}) as {
    format?: unknown;
    app?: { id?: unknown };
    instance?: { id?: unknown };
    members?: unknown;
  };
  if (manifest.format !== archiveFormat) {
    throw invalid(
      path,
      `archive format ${String(manifest.format)}; this manager reads ${archiveFormat}`,
    );
  }
  if (
    typeof manifest.app?.id !== 'string' ||
    typeof manifest.instance?.id !== 'string' ||
    typeof manifest.members !== 'object'
  ) {
    throw invalid(path, 'manifest.json lacks the app, instance or members');
  }
  return value as BackupManifest;
}

/** Reads only the manifest (the archive's first member) without unpacking the rest. */
export async function readManifest(path: string, passphrase?: string): Promise<BackupManifest> {
  try {
    const source = await archiveStream(path, passphrase);
    const text = await new Promise<string>((resolve, reject) => {
      const parser = new Parser({ strict: true });
      let found = false;
      parser.on('entry', (entry: ReadEntry) => {
        if (found || entry.path !== 'manifest.json') {
          entry.resume();
          return;
        }
        found = true;
        const parts: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => parts.push(chunk));
        entry.on('end', () => {
          resolve(Buffer.concat(parts).toString('utf8'));
          source.destroy();
        });
      });
      parser.on('error', reject);
      parser.on('end', () => {
        if (!found) reject(invalid(path, 'it has no manifest.json'));
      });
      source.on('error', reject);
      source.pipe(parser as unknown as Writable);
    });
    return parseManifest(path, text);
  } catch (error) {
    throw mapError(path, error);
  }
}

/** An unpacked, verified archive. */
export interface UnpackedArchive {
  manifest: BackupManifest;
  /** The gzipped dump. */
  dumpFile: string;
  /** The tar of the instance's folder. */
  filesFile: string;
}

async function digestOf(path: string): Promise<MemberDigest> {
  const digest = new Digest();
  await pipeline(createReadStream(path), digest, new PassThrough().resume());
  return digest.result();
}

/**
 * Unpacks an archive into `folder` (which must exist and be empty) and checks every member
 * against the manifest: `BACKUP_INVALID` for damage, `PASSPHRASE_WRONG`, `BACKUP_NOT_FOUND`.
 */
export async function unpackArchive(
  path: string,
  folder: string,
  passphrase?: string,
): Promise<UnpackedArchive> {
  try {
    await stat(path);
    const source = await archiveStream(path, passphrase);
    await pipeline(
      source,
      extractTar({
        cwd: folder,
        strict: true,
        filter: (name) => (memberNames as readonly string[]).includes(name),
      }) as unknown as Writable,
    );
    let text: string;
    try {
      text = await readFile(join(folder, 'manifest.json'), 'utf8');
    } catch {
      throw invalid(path, 'it has no manifest.json');
    }
    const manifest = parseManifest(path, text);
    for (const name of ['db.sql.gz', 'files.tar'] as const) {
      const expected = manifest.members[name];
      const actual = await digestOf(join(folder, name)).catch(() => null);
      if (!actual || actual.sha256 !== expected.sha256 || actual.size !== expected.size) {
        throw invalid(path, `${name} does not match its digest in the manifest`);
      }
    }
    return {
      manifest,
      dumpFile: join(folder, 'db.sql.gz'),
      filesFile: join(folder, 'files.tar'),
    };
  } catch (error) {
    throw mapError(path, error);
  }
}

/** A manifest larger than this is not one a backup writes. */
const maxManifestBytes = 1024 * 1024;

/** What {@link checkArchive} found: the manifest, unless the archive is encrypted. */
export interface CheckedArchive {
  encrypted: boolean;
  manifest: BackupManifest | null;
}

/**
 * Checks a whole archive without unpacking it (one streamed pass, nothing written): a plain
 * one must be a tar of exactly the archive's members, its manifest readable by this manager and
 * every other member matching its digest; an encrypted one, without its passphrase, must have
 * the layout of the encryption (lib/stream-cipher.ts). `BACKUP_INVALID` says what is wrong.
 */
export async function checkArchive(path: string): Promise<CheckedArchive> {
  try {
    if (isEncrypted(await firstBytes(path, 16))) {
      await pipeline(createReadStream(path), createLayoutCheck());
      return { encrypted: true, manifest: null };
    }
    // The manifest, and the first thing wrong, thrown once the tar has been read (an error
    // thrown from an entry's handler would not reach the pipeline).
    const seen: { manifest?: BackupManifest; problem?: Error } = {};
    const digests = new Map<string, MemberDigest>();
    const parser = new Parser({ strict: true });
    const members: Promise<void>[] = [];
    parser.on('entry', (entry: ReadEntry) => {
      const name = entry.path;
      if (!(memberNames as readonly string[]).includes(name) || digests.has(name)) {
        seen.problem ??= invalid(path, `it holds ${name}, which is not a member of a backup`);
        entry.resume();
        return;
      }
      digests.set(name, { size: -1, sha256: '' });
      if (name === 'manifest.json') {
        const parts: Buffer[] = [];
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // A manifest is a few KiB: a huge one is not ours, and is not kept in memory.
          if (size <= maxManifestBytes) parts.push(chunk);
        });
        entry.on('end', () => {
          try {
            if (size > maxManifestBytes) throw invalid(path, 'manifest.json is too large');
            seen.manifest = parseManifest(path, Buffer.concat(parts).toString('utf8'));
          } catch (error) {
            seen.problem ??= error as Error;
          }
        });
        return;
      }
      const digest = new Digest();
      members.push(
        pipeline(entry, digest, new PassThrough().resume()).then(() => {
          digests.set(name, digest.result());
        }),
      );
    });
    await pipeline(createReadStream(path), parser as unknown as Writable);
    await Promise.all(members);
    if (seen.problem) throw seen.problem;
    const found = seen.manifest;
    if (!found) throw invalid(path, 'it has no manifest.json');
    for (const name of ['db.sql.gz', 'files.tar'] as const) {
      const expected = found.members[name];
      const actual = digests.get(name);
      if (!actual || actual.sha256 !== expected.sha256 || actual.size !== expected.size) {
        throw invalid(path, `${name} is missing or does not match its digest in the manifest`);
      }
    }
    return { encrypted: false, manifest: found };
  } catch (error) {
    throw mapError(path, error);
  }
}
