import { createReadStream, realpathSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.xml': 'application/xml',
};

/** Real paths of static folders, each for {@link rootTtlMs} after it was resolved. */
const roots = new Map<string, { root: string; until: number }>();
/**
 * How long a static folder's real path is reused. Resolving it walks every component of the
 * path (a `lstat` each); it was 7–8 % of the manager's CPU per proxied request to an app with
 * `web.static` (every request looks there first). The folder is inside the installed package,
 * which only the manager writes, and an install checks that it leads nowhere outside the
 * package; a second bounds how long a new install's path could be resolved the old way.
 */
const rootTtlMs = 1000;

function realFolder(folder: string): string {
  const now = Date.now();
  const known = roots.get(folder);
  if (known && known.until > now) return known.root;
  const root = realpathSync.native(folder);
  // Folders of apps since removed expire and are dropped in bulk now and then.
  if (roots.size >= 256) roots.clear();
  roots.set(folder, { root, until: now + rootTtlMs });
  return root;
}

/**
 * The regular file `segments` name inside `folder`, by its real path, with its stat; undefined
 * when there is none (or a link leads out of the folder). Synchronous on purpose, as nginx
 * opens its files: these are metadata lookups in the package folder on local disk (microseconds
 * when its entries are cached, which a served site's are), and each asynchronous one went
 * through the thread pool and a promise, which made the lookup most of the CPU per request —
 * also for every request to an app with `web.static` that its files do not answer. An absent
 * file is found without an exception.
 */
function findFile(folder: string, segments: string[]): { path: string; info: Stats } | undefined {
  try {
    const root = realFolder(folder);
    const joined = join(root, ...segments);
    const info = statSync(joined, { throwIfNoEntry: false });
    if (!info?.isFile()) return undefined;
    const path = realpathSync.native(joined);
    // A symlink inside the package may not lead out of the static folder.
    return path.startsWith(root + sep) ? { path, info } : undefined;
  } catch {
    return undefined;
  }
}

/** Files up to this size are kept in memory once read (see {@link smallFile}). */
const cachedFileMax = 64 * 1024;
/** Memory all kept files may take together; the oldest go first when a new one needs room. */
const cacheBudget = 16 * 1024 * 1024;
/** Kept contents by real path, with the stat they were read under. */
const kept = new Map<string, { version: string; body: Buffer }>();
let keptBytes = 0;

/** What tells one content of a file from another: a new file, a write, a touch. */
function versionOf(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/**
 * The content of a small file, from memory when the file is as it was read (the stat every
 * request makes anyway says so), else read and kept; undefined when it changed while read (the
 * caller streams it instead). A stream cost the manager more CPU than the file's bytes: an
 * open, a read and a close through the thread pool and a pipe, for each request. A package's
 * files are replaced by renaming (a new inode); only a rewrite in place to the same size within
 * one tick of the file system's clock could go unseen.
 */
async function smallFile(path: string, info: Stats): Promise<Buffer | undefined> {
  const version = versionOf(info);
  const entry = kept.get(path);
  if (entry?.version === version) return entry.body;
  const body = await readFile(path).catch(() => undefined);
  if (body?.length !== info.size) return undefined;
  if (entry) {
    kept.delete(path);
    keptBytes -= entry.body.length;
  }
  for (const [oldest, { body: old }] of kept) {
    if (keptBytes + body.length <= cacheBudget) break;
    kept.delete(oldest);
    keptBytes -= old.length;
  }
  kept.set(path, { version, body });
  keptBytes += body.length;
  return body;
}

/** Options of {@link serveStatic}. */
export interface StaticOptions {
  /** Headers for one file (its real path), over the defaults (e.g. a longer cache-control). */
  headers?: (file: string) => Record<string, string>;
  /**
   * The instance's own path (`/example.com/b`). With it, a request for the folder itself
   * without its trailing slash (`rest` empty) is redirected to `<base>/` (query kept) when the
   * folder has an index.html: served at `/example.com/b`, its relative links would miss.
   */
  base?: string;
}

/**
 * The path below the instance's path `base` that `path` asks for: `''` for the instance's path
 * itself, else starting with `/`. The front's router matches whole segments and skips empty
 * ones, so a path spelled otherwise (`//example.com/b/x`, `/example.com//b`) is cut by
 * segments, not by length.
 */
export function restBelow(path: string, base: string): string {
  if (path === base || path.startsWith(`${base}/`)) return path.slice(base.length);
  const parts = path.split('/').filter((part) => part.length > 0);
  const below = parts.slice(base.split('/').filter((part) => part.length > 0).length);
  if (below.length === 0) return path.endsWith('/') ? '/' : '';
  return `/${below.join('/')}${path.endsWith('/') ? '/' : ''}`;
}

/**
 * Where a request for the instance's path without its trailing slash goes: `<base>/` and the
 * query. Built from the instance's own path, never from the request's spelling of it, so that
 * `//evil.com` cannot become `Location: //evil.com/` (another host for a browser); a base that
 * would start with `//` anyway is cut to one slash.
 */
export function slashLocation(base: string, url: string): string {
  const mark = url.indexOf('?');
  const query = mark === -1 ? '' : url.slice(mark);
  const path = base.replace(/^[/\\]+/, '').replace(/\/+$/, '');
  return path === '' ? `/${query}` : `/${path}/${query}`;
}

/**
 * Serves a file of an app's `web.static` folder when one matches the request, and answers
 * whether it did (false: the request goes on to the service). `rest` is the path below the
 * instance's path. Only regular files inside the folder are served, never a listing; `..`,
 * encoded slashes and NUL bytes match nothing. GET and HEAD, with ETag / If-None-Match and a
 * single byte Range.
 */
export async function serveStatic(
  request: IncomingMessage,
  response: ServerResponse,
  folder: string,
  rest: string,
  options: StaticOptions = {},
): Promise<boolean> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return false;
  }
  const segments = decoded.split('/').filter((segment) => segment.length > 0);
  const folderItself = segments.length === 0;
  if (folderItself) segments.push('index.html');
  if (segments.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0')))
    return false;
  const found = findFile(folder, segments);
  if (!found) return false;
  const { path, info } = found;
  if (folderItself && rest === '' && options.base !== undefined) {
    response.writeHead(301, {
      location: slashLocation(options.base, request.url ?? ''),
      'content-length': 0,
    });
    response.end();
    return true;
  }

  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Record<string, string | number> = {
    'content-type': types[extname(path).toLowerCase()] ?? 'application/octet-stream',
    etag,
    'last-modified': info.mtime.toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...options.headers?.(path),
  };
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304, headers);
    response.end();
    return true;
  }
  let start = 0;
  let end = info.size - 1;
  let status = 200;
  const range = request.headers.range;
  if (
    range !== undefined &&
    (request.headers['if-range'] === undefined || request.headers['if-range'] === etag)
  ) {
    const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (match && (match[1] !== '' || match[2] !== '')) {
      if (match[1] === '') {
        start = Math.max(0, info.size - Number(match[2]));
      } else {
        start = Number(match[1]);
        if (match[2] !== '') end = Math.min(end, Number(match[2]));
      }
      if (start > end || start >= info.size) {
        response.writeHead(416, { 'content-range': `bytes */${info.size}` });
        response.end();
        return true;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
    }
  }
  const body =
    request.method === 'GET' && info.size > 0 && info.size <= cachedFileMax
      ? await smallFile(path, info)
      : undefined;
  headers['content-length'] = info.size === 0 ? 0 : end - start + 1;
  response.writeHead(status, headers);
  if (request.method === 'HEAD' || info.size === 0) {
    response.end();
    return true;
  }
  if (body) {
    response.end(status === 206 ? body.subarray(start, end + 1) : body);
    return true;
  }
  const stream = createReadStream(path, { start, end });
  stream.once('error', () => response.destroy());
  response.once('close', () => stream.destroy());
  stream.pipe(response);
  return true;
}
