import { Readable } from 'node:stream';
import { Header, Pax, type HeaderData } from 'tar';
import { walkFolder, type WalkEntry } from './safe-fs.js';

const block = 512;

function headerOf(data: HeaderData): Buffer[] {
  const header = new Header(data);
  const parts: Buffer[] = [];
  // Names longer than the ustar fields get a PAX header first, as tar's own writer does.
  if (header.encode()) {
    parts.push(
      new Pax({
        path: data.path,
        linkpath: data.linkpath,
        size: data.size,
        mtime: data.mtime,
      }).encode(),
    );
  }
  parts.push(header.block!);
  return parts;
}

function padding(size: number): Buffer {
  const rest = size % block;
  return Buffer.alloc(rest === 0 ? 0 : block - rest);
}

async function* entryBlocks(entry: WalkEntry, topUid: number): AsyncGenerator<Buffer> {
  const mode = entry.info.mode & 0o7777;
  const mtime = entry.info.mtime;
  if (entry.info.isDirectory()) {
    const name = entry.path === '' ? './' : `./${entry.path}/`;
    yield* headerOf({ path: name, mode, type: 'Directory', size: 0 });
    return;
  }
  if (entry.linkTarget !== undefined) {
    yield* headerOf({
      path: `./${entry.path}`,
      mode,
      mtime,
      type: 'SymbolicLink',
      linkpath: entry.linkTarget,
      size: 0,
    });
    return;
  }
  // A second name of someone else's file (a hard link, where the system allows linking files
  // one cannot write) is left out: reading it as root would hand over that file.
  if (entry.info.nlink > 1 && entry.info.uid !== topUid) return;
  const file = await entry.openFile?.();
  if (!file) return; // replaced while the walk ran: left out
  try {
    const { size } = await file.stat();
    yield* headerOf({ path: `./${entry.path}`, mode, mtime, type: 'File', size });
    let left = size;
    while (left > 0) {
      const buffer = Buffer.alloc(Math.min(left, 256 * 1024));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, size - left);
      // A file cut short meanwhile is padded with zeros to the size its header announced.
      if (bytesRead === 0) {
        yield Buffer.alloc(left);
        break;
      }
      left -= bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
    yield padding(size);
  } finally {
    await file.close();
  }
}

/**
 * A tar stream (ustar with PAX names, owners left out, like tar's `portable`) of a folder's
 * content, entries named `./...`, read without following any symbolic link: links are stored
 * as links, folders are walked through their descriptors, each file is opened with O_NOFOLLOW
 * and checked to be the one the walk saw (see {@link walkFolder}). So a folder its owner can
 * change while it is read never yields the content of a file outside it. Sockets, FIFOs and
 * devices are left out, and so are files with several names owned by another user than the
 * folder's.
 */
export function packFolder(path: string): Readable {
  async function* blocks(): AsyncGenerator<Buffer> {
    let topUid = -1;
    for await (const entry of walkFolder(path)) {
      if (entry.path === '') topUid = entry.info.uid;
      yield* entryBlocks(entry, topUid);
    }
    yield Buffer.alloc(block * 2);
  }
  return Readable.from(blocks(), { objectMode: false });
}
