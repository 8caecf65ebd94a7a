/**
 * WebDAV (https or http) targets: an archive is streamed by one chunked PUT to a hidden
 * temporary name in its folder and then MOVEd to its name, so a cut upload never stands
 * under an archive's name (and a rolling slot keeps its previous archive until the new one is
 * whole). Folders are made with MKCOL, listed with PROPFIND (depth 1, walked).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppvisorError } from '../errors/index.js';
import { remoteError, type ByteRange, type RemoteObject, type RemoteStore } from './remote.js';

/** Where and how a WebDAV target is reached. */
export interface WebdavSettings {
  name: string;
  /** The folder's URL, `http(s)://host[:port]/path`, without credentials. */
  url: string;
  user?: string;
  password?: string;
}

/** Folders walked at most when listing, and seconds of silence before a request fails. */
const maxFolders = 10_000;
const idleSeconds = 60;

/** XML's five entities, as PROPFIND answers escape hrefs. */
function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, entity: string) => {
    switch (entity) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return '&';
    }
  });
}

/** The text of the first element `tag` (any namespace prefix) in `xml`. */
function element(xml: string, tag: string): string | undefined {
  const found = new RegExp(
    `<(?:[\\w.-]+:)?${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w.-]+:)?${tag}>`,
    'i',
  ).exec(xml);
  return found?.[1];
}

/** One entry of a PROPFIND answer. */
interface DavEntry {
  path: string;
  folder: boolean;
  size: number;
  modifiedAt: string;
}

/** The entries of a multistatus answer (RFC 4918), whatever prefix its namespace has. */
export function parseMultistatus(xml: string): DavEntry[] {
  const entries: DavEntry[] = [];
  const responses = xml.matchAll(
    /<(?:[\w.-]+:)?response(?:\s[^>]*)?>([\s\S]*?)<\/(?:[\w.-]+:)?response>/gi,
  );
  for (const [, body = ''] of responses) {
    const href = element(body, 'href');
    if (href === undefined) continue;
    let path: string;
    try {
      path = decodeURIComponent(new URL(unescapeXml(href.trim()), 'http://x').pathname);
    } catch {
      continue;
    }
    const type = element(body, 'resourcetype') ?? '';
    const modified = Date.parse(element(body, 'getlastmodified') ?? '');
    entries.push({
      path,
      folder: /<(?:[\w.-]+:)?collection\b/i.test(type),
      size: Number(element(body, 'getcontentlength') ?? 0) || 0,
      modifiedAt: new Date(Number.isNaN(modified) ? 0 : modified).toISOString(),
    });
  }
  return entries;
}

/** A WebDAV folder as a {@link RemoteStore}. */
export function webdavStore(settings: WebdavSettings): RemoteStore {
  const base = new URL(settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
  const basePath = decodeURIComponent(base.pathname);
  const auth =
    settings.user === undefined
      ? undefined
      : `Basic ${Buffer.from(`${settings.user}:${settings.password ?? ''}`).toString('base64')}`;
  const urlOf = (key: string) => new URL(key.split('/').map(encodeURIComponent).join('/'), base);
  const { name } = settings;

  /** Sends one request; the body, when given, is streamed (chunked). */
  const send = (
    method: string,
    url: URL,
    headers: Record<string, string> = {},
    body?: Readable | string,
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method,
        headers: { ...headers, ...(auth ? { authorization: auth } : {}) },
        timeout: idleSeconds * 1000,
      });
      request.on('response', resolve);
      request.on('error', reject);
      request.on('timeout', () => {
        request.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' }));
      });
      if (body === undefined) request.end();
      else if (typeof body === 'string') request.end(body);
      else {
        pipeline(body, request).catch((error: unknown) => {
          const failure = error instanceof Error ? error : new Error(String(error));
          request.destroy(failure);
          reject(failure);
        });
      }
    });

  /** Reads a whole (small) answer body. */
  const textOf = async (answer: IncomingMessage): Promise<string> => {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 64 * 1024 * 1024) throw new Error('answer too large');
      parts.push(chunk);
    }
    return Buffer.concat(parts).toString('utf8');
  };

  /** Sends and expects one of `ok`; otherwise the catalog's error for `operation`. */
  const expect = async (
    operation: string,
    ok: readonly number[],
    ...args: Parameters<typeof send>
  ): Promise<IncomingMessage> => {
    let answer: IncomingMessage;
    try {
      answer = await send(...args);
    } catch (error) {
      throw remoteError(name, operation, error);
    }
    const status = answer.statusCode ?? 0;
    if (!ok.includes(status)) {
      answer.resume();
      throw remoteError(name, operation, undefined, status, answer.statusMessage);
    }
    return answer;
  };

  /** Makes the folders of `key` (each one, as MKCOL makes one level). */
  const makeFolders = async (key: string): Promise<void> => {
    const parts = key.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const folder = urlOf(`${parts.slice(0, i).join('/')}/`);
      // 405: it exists already.
      (
        await expect(
          `making folder ${parts.slice(0, i).join('/')}`,
          [200, 201, 204, 405],
          'MKCOL',
          folder,
        )
      ).resume();
    }
  };

  return {
    async put(key, body) {
      await makeFolders(key);
      const slash = key.lastIndexOf('/');
      const partial = `${key.slice(0, slash + 1)}.${key.slice(slash + 1)}.partial-${randomBytes(6).toString('hex')}`;
      try {
        (
          await expect(`upload of ${key}`, [200, 201, 204], 'PUT', urlOf(partial), {}, body)
        ).resume();
        (
          await expect(`upload of ${key}`, [200, 201, 204], 'MOVE', urlOf(partial), {
            destination: urlOf(key).href,
            overwrite: 'T',
          })
        ).resume();
      } catch (error) {
        body.destroy();
        // The server may be gone: then there is nothing to remove now, and the hidden name is
        // never listed.
        await send('DELETE', urlOf(partial)).then(
          (answer) => answer.resume(),
          () => undefined,
        );
        throw error;
      }
    },

    async list() {
      const objects: RemoteObject[] = [];
      const folders = [''];
      for (let walked = 0; folders.length > 0 && walked < maxFolders; walked++) {
        const folder = folders.shift()!;
        const answer = await expect(
          'listing',
          [207, 404],
          'PROPFIND',
          urlOf(folder),
          {
            depth: '1',
            'content-type': 'application/xml',
          },
          '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>',
        );
        if (answer.statusCode === 404) {
          answer.resume();
          continue;
        }
        const xml = await textOf(answer).catch((error: unknown) => {
          throw remoteError(name, 'listing', error);
        });
        for (const entry of parseMultistatus(xml)) {
          if (!entry.path.startsWith(basePath)) continue;
          const key = entry.path.slice(basePath.length).replace(/\/$/, '');
          if (key === folder.replace(/\/$/, '') || !key) continue;
          if (key.split('/').some((part) => part.startsWith('.'))) continue;
          if (entry.folder) folders.push(`${key}/`);
          else objects.push({ key, size: entry.size, modifiedAt: entry.modifiedAt });
        }
      }
      return objects;
    },

    async get(key, range?: ByteRange) {
      let answer: IncomingMessage;
      try {
        answer = await send(
          'GET',
          urlOf(key),
          range ? { range: `bytes=${range.start}-${range.end}` } : {},
        );
      } catch (error) {
        throw remoteError(name, `download of ${key}`, error);
      }
      if (answer.statusCode === 404) {
        answer.resume();
        throw new AppvisorError('BACKUP_NOT_FOUND', `no backup ${key} on target ${name}`);
      }
      if (answer.statusCode !== 200 && answer.statusCode !== 206) {
        answer.resume();
        throw remoteError(
          name,
          `download of ${key}`,
          undefined,
          answer.statusCode,
          answer.statusMessage,
        );
      }
      // A server that ignores Range sends all: the reader stops when it has what it needs.
      const out = new PassThrough();
      answer.on('error', (error) => out.destroy(remoteError(name, `download of ${key}`, error)));
      return answer.pipe(out);
    },

    async remove(key) {
      (await expect(`removal of ${key}`, [200, 202, 204, 404], 'DELETE', urlOf(key))).resume();
    },

    close() {
      // Each request has its own connection (no keep-alive agent): nothing to free.
    },
  };
}
