/**
 * The backup jobs on a remote target: where a new archive goes there (its template and rolling
 * slots, as in the backup folder), what the target holds (each archive's manifest read from its
 * first bytes), count retention there, and bringing an archive down for a restore.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { numberedName } from './archive.js';
import { manifestFromHead } from './archive-read.js';
import type { BackupContext } from './context.js';
import type { BackupEntry, Retention } from './model.js';
import { remoteError, type RemoteObject, type RemoteStore } from './remote.js';
import { expandTemplate, usesSlots, type TemplateValues } from './template.js';

/** Bytes read of an archive's head to find its manifest (its first member, a few KiB). */
const headBytes = 256 * 1024;
/** Archives whose heads are read at once when listing. */
const listParallel = 4;

/**
 * The key a new archive gets on a target holding `objects`: the template expanded; with
 * rolling slots the first missing slot or else the oldest; otherwise, when the name is taken,
 * the first free numbered name (`-2`, `-3` ...).
 */
export function remoteKeyOf(
  template: string,
  values: TemplateValues,
  slots: number,
  objects: readonly RemoteObject[],
): string {
  const byKey = new Map(objects.map((object) => [object.key, object]));
  if (!usesSlots(template)) {
    const key = expandTemplate(template, values);
    for (let n = 1; n <= 1000; n++) {
      const candidate = n === 1 ? key : numberedName(key, n);
      if (!byKey.has(candidate)) return candidate;
    }
    return key;
  }
  let best: RemoteObject | undefined;
  for (let slot = 0; slot < slots; slot++) {
    const key = expandTemplate(template, { ...values, slot });
    const found = byKey.get(key);
    if (!found) return key;
    if (!best || found.modifiedAt < best.modifiedAt) best = found;
  }
  return best!.key;
}

/** Reads `stream` up to `limit` bytes, then stops it. */
async function head(stream: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, limit);
}

/**
 * The archive `object` of target `target` as list shows it; encrypted ones without app and
 * instance. Throws for an object that is not an archive, and the target's errors.
 */
export async function remoteEntry(
  remote: RemoteStore,
  target: string,
  object: RemoteObject,
): Promise<BackupEntry> {
  const bytes = await head(
    await remote.get(object.key, { start: 0, end: headBytes - 1 }),
    headBytes,
  );
  const manifest = await manifestFromHead(bytes, `${target}:${object.key}`).catch(
    (error: unknown) => {
      if ((error as { code?: string }).code === 'PASSPHRASE_WRONG') return null;
      throw error;
    },
  );
  return {
    file: object.key,
    target,
    size: object.size,
    modifiedAt: object.modifiedAt,
    encrypted: manifest === null,
    app: manifest?.app.id ?? null,
    appVersion: manifest?.app.version ?? null,
    instance: manifest?.instance.id ?? null,
    createdAt: manifest?.createdAt ?? null,
  };
}

/** The archives among `objects` (newest first); objects that are not archives are left out. */
export async function remoteEntries(
  remote: RemoteStore,
  target: string,
  objects: readonly RemoteObject[],
): Promise<BackupEntry[]> {
  const entries: BackupEntry[] = [];
  const queue = [...objects];
  const worker = async () => {
    for (let object = queue.shift(); object; object = queue.shift()) {
      const entry = await remoteEntry(remote, target, object).catch((error: unknown) => {
        // A target that fails is an error of the listing; an object that is no archive is not.
        const code = (error as { code?: string }).code ?? '';
        if (code.startsWith('TARGET_')) throw error;
        return null;
      });
      if (entry) entries.push(entry);
    }
  };
  await Promise.all(Array.from({ length: listParallel }, worker));
  return entries.sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
}

/**
 * Count retention on a target, as {@link prune} does in the backup folder: the oldest archives
 * of the new one's instance and app in its folder beyond `keep` are deleted; encrypted ones,
 * which cannot be attributed, are left alone.
 */
export async function pruneRemote(
  ctx: BackupContext,
  remote: RemoteStore,
  target: string,
  entry: BackupEntry,
  { keep, template }: Retention,
): Promise<void> {
  if (keep <= 0 || usesSlots(template)) return;
  const folder = posix.dirname(entry.file);
  const objects = (await remote.list()).filter((object) => posix.dirname(object.key) === folder);
  const siblings = (await remoteEntries(remote, target, objects)).filter(
    (found) => found.instance === entry.instance && found.app === entry.app,
  );
  siblings.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  for (const old of siblings.slice(keep)) {
    await remote.remove(old.file);
    ctx.options.logger.info({ target, file: old.file }, 'removed an old remote backup (retention)');
  }
}

/** Archives on target `target` (newest first), those of `instance` only when given. */
export async function listRemote(
  ctx: BackupContext,
  target: string,
  filter: { instance?: string },
): Promise<BackupEntry[]> {
  const remote = await ctx.targets.open(target);
  try {
    const entries = await remoteEntries(remote, target, await remote.list());
    return entries.filter(
      (entry) => filter.instance === undefined || entry.instance === filter.instance,
    );
  } finally {
    remote.close();
  }
}

/**
 * Brings archive `key` of target `target` down into a new file of the work folder and answers
 * its path (the caller removes it); it is checked as any archive when it is read.
 */
export async function downloadArchive(
  ctx: BackupContext,
  target: string,
  key: string,
): Promise<string> {
  const remote = await ctx.targets.open(target);
  try {
    await mkdir(ctx.workDir, { recursive: true, mode: 0o700 });
    const path = posix.join(ctx.workDir, `download-${randomBytes(6).toString('hex')}.tar`);
    try {
      await pipeline(await remote.get(key), createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    } catch (error) {
      await rm(path, { force: true });
      throw remoteError(target, `download of ${key}`, error);
    }
    return path;
  } finally {
    remote.close();
  }
}
