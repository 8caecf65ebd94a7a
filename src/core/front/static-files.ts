import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
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
  let path: string;
  let root: string;
  try {
    root = await realpath(folder);
    path = await realpath(join(root, ...segments));
  } catch {
    return false;
  }
  // A symlink inside the package may not lead out of the static folder.
  if (!path.startsWith(root + sep)) return false;
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return false;
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
  headers['content-length'] = info.size === 0 ? 0 : end - start + 1;
  response.writeHead(status, headers);
  if (request.method === 'HEAD' || info.size === 0) {
    response.end();
    return true;
  }
  const stream = createReadStream(path, { start, end });
  stream.once('error', () => response.destroy());
  response.once('close', () => stream.destroy());
  stream.pipe(response);
  return true;
}
