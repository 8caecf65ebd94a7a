/**
 * `appvisor backup download` and `backup upload`: archives to and from the manager's backup
 * folder over the API, so that moving an instance to another platform needs no shell there.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { BackupEntry } from '../../api/index.js';
import { CliError } from '../client.js';
import { withContext, type Cli, type CommandContext } from '../context.js';
import { bytes, printAnswer } from '../output.js';
import { progressLine, withProgress } from '../progress.js';
import { ByteCounter } from '../transfer-progress.js';

/** An archive's name as list shows it, in a URL path (its slashes kept). */
function filePath(file: string): string {
  return `/backups/files/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** `12.0 MiB of 40.0 MiB (30 %), 5.1 MiB/s` */
function transferred(done: number, total: number | undefined, since: number): string {
  const seconds = (Date.now() - since) / 1000;
  const rate = seconds > 0 ? `, ${bytes(done / seconds)}/s` : '';
  if (!total) return `${bytes(done)}${rate}`;
  return `${bytes(done)} of ${bytes(total)} (${Math.floor((done / total) * 100)} %)${rate}`;
}

/** What `backup download` did. */
export interface DownloadResult {
  file: string;
  /** Where it is now. */
  path: string;
  size: number;
  /** Bytes that were already there from an interrupted download (0: from the start). */
  resumedAt: number;
}

/** Where a download goes: `-o` (a folder: the archive's name in it), else the current folder. */
async function targetOf(file: string, output: string | undefined): Promise<string> {
  const path = resolve(output ?? basename(file));
  const found = await stat(path).catch(() => null);
  return found?.isDirectory() ? join(path, basename(file)) : path;
}

/**
 * `appvisor backup download <file> [-o path]`: the archive into `<path>.part` (its entity tag
 * beside it in `<path>.part.etag`), renamed to `<path>` once complete. An interrupted download
 * resumes from the bytes it has (Range, with If-Range: an archive that changed since is fetched
 * again from the start).
 */
export async function backupDownload(
  context: CommandContext,
  file: string,
  options: { output?: string },
): Promise<void> {
  const target = await targetOf(file, options.output);
  if (await stat(target).catch(() => null)) {
    throw new CliError('BAD_REQUEST', `${target} exists already: remove it or give another -o`);
  }
  const part = `${target}.part`;
  const tagFile = `${part}.etag`;
  const savedTag = (await readFile(tagFile, 'utf8').catch(() => '')).trim();
  const have = savedTag ? ((await stat(part).catch(() => null))?.size ?? 0) : 0;
  const url = filePath(file);
  let response;
  try {
    response = await context.client.request(
      'GET',
      url,
      undefined,
      have > 0 ? { range: `bytes=${have}-`, 'if-range': savedTag } : {},
    );
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'RANGE_NOT_SATISFIABLE') throw error;
    // Nothing after the bytes we have: complete, when the archive is still the one they are of.
    const head = await context.client.request('HEAD', url);
    head.resume();
    if (head.headers.etag !== savedTag || Number(head.headers['content-length']) !== have) {
      await rm(part, { force: true });
      await rm(tagFile, { force: true });
      throw new CliError(
        'BACKUP_INVALID',
        `${part} does not match ${file} on the manager: it was removed, run the download again`,
      );
    }
    response = undefined;
  }
  let resumedAt = 0;
  if (response) {
    const resumed = response.statusCode === 206;
    if (resumed && !response.headers['content-range']?.startsWith(`bytes ${have}-`)) {
      response.destroy();
      throw new CliError('INTERNAL', `the manager sent another range than bytes=${have}-`);
    }
    resumedAt = resumed ? have : 0;
    const etag = response.headers.etag ?? '';
    if (!resumed) await writeFile(tagFile, `${etag}\n`, { mode: 0o600 });
    const length = Number(response.headers['content-length']);
    const total = Number.isFinite(length) ? resumedAt + length : undefined;
    const counter = new ByteCounter();
    const started = Date.now();
    await withProgress(
      progressLine(context),
      () =>
        Promise.resolve(
          `downloading ${file}: ${transferred(resumedAt + counter.bytes, total, started)}`,
        ),
      () =>
        pipeline(
          response,
          counter,
          createWriteStream(part, { flags: resumed ? 'a' : 'w', mode: 0o600 }),
        ),
    );
    if (total !== undefined && resumedAt + counter.bytes !== total) {
      throw new CliError(
        'MANAGER_UNREACHABLE',
        `the download of ${file} was cut off; run it again to resume`,
      );
    }
    const written = await open(part, 'r');
    try {
      await written.sync();
    } finally {
      await written.close();
    }
  }
  await rename(part, target);
  await rm(tagFile, { force: true });
  const result: DownloadResult = { file, path: target, size: (await stat(target)).size, resumedAt };
  printAnswer(
    context,
    result,
    () =>
      `${target} (${bytes(result.size)}${resumedAt > 0 ? `, resumed at ${bytes(resumedAt)}` : ''})`,
  );
}

/**
 * `appvisor backup upload <path> [--name N]`: the archive into the manager's backup folder
 * under its file name (or `--name`), streamed; the manager checks it whole before keeping it.
 */
export async function backupUpload(
  context: CommandContext,
  path: string,
  options: { name?: string },
): Promise<void> {
  const found = await stat(path).catch(() => null);
  if (!found?.isFile()) throw new CliError('BAD_REQUEST', `${path} is not a file`);
  const name = options.name ?? basename(path);
  const counter = new ByteCounter();
  const started = Date.now();
  const source = createReadStream(path).pipe(counter);
  const entry = await withProgress(
    progressLine(context),
    () => {
      const text = transferred(counter.bytes, found.size, started);
      return Promise.resolve(
        counter.bytes < found.size ? `uploading ${name}: ${text}` : `checking ${name}…`,
      );
    },
    () =>
      context.client.upload<BackupEntry>(filePath(name), source, 'application/octet-stream', {
        method: 'PUT',
        length: found.size,
      }),
  );
  printAnswer(context, entry, () => {
    const what = entry.instance ? `, ${entry.instance} of ${entry.app ?? '?'}` : ', encrypted';
    return `${entry.file} (${bytes(entry.size)}${what}) is in the backup folder`;
  });
}

/** Registers `appvisor backup download` and `backup upload` under `backup`. */
export function registerBackupTransfer(cli: Cli, backup: Command): void {
  backup
    .command('download')
    .description('copy an archive of the backup folder here (resumes an interrupted download)')
    .argument('<file>', 'the archive, as `backup list` names it')
    .option('-o, --output <path>', 'where to write it (a folder: under its name); default: here')
    .action(withContext(cli, backupDownload));
  backup
    .command('upload')
    .description('copy an archive into the backup folder, to restore it there')
    .argument('<path>', 'the archive file')
    .option('--name <name>', 'its name in the backup folder (default: its file name)')
    .action(withContext(cli, backupUpload));
}
