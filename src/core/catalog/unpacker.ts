import { chmod, link, mkdir, open, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { appIdPattern } from './manifest.js';
import {
  checkLinkText,
  idRule,
  invalid,
  packageError,
  quote,
  splitName,
} from './package-checks.js';
import type { ExtractedPackage, PackageLimits } from './package-reader.js';

/** Unpacked sizes below this are never refused for their compression ratio. */
const ratioFloor = 16 * 1024 * 1024;

/** Symlinks followed while checking where a link leads; more than this is treated as a loop. */
const maxLinkHops = 40;

type Kind = 'file' | 'dir' | 'symlink';

/**
 * Creates the entries of one archive inside the target folder and keeps the books: what exists
 * at each path (so nothing is ever written through a symlink or over an earlier entry), the
 * symlinks (checked again once the whole archive is known), and the counts the limits apply to.
 * The readers feed it one entry at a time, in archive order.
 */
export class Unpacker {
  readonly #root: string;
  readonly #archiveSize: number;
  readonly #limits: PackageLimits;
  readonly #expectedId: string | undefined;
  /** Paths relative to the package folder, `/`-joined. */
  readonly #kinds = new Map<string, Kind>();
  readonly #links = new Map<string, string>();
  #id: string | undefined;
  #entries = 0;
  #bytes = 0;
  /** Decompressed bytes of a tar stream: headers, padding and skipped data cost work too. */
  #streamBytes = 0;
  #lastName = '';

  constructor(
    root: string,
    archiveSize: number,
    limits: PackageLimits,
    expectedId: string | undefined,
  ) {
    this.#root = root;
    this.#archiveSize = archiveSize;
    this.#limits = limits;
    this.#expectedId = expectedId;
  }

  async addDir(name: string): Promise<void> {
    const rest = this.#begin(name, 'dir');
    if (rest.length === 0) return; // the top folder itself: that is the target
    const key = await this.#prepare(name, rest, 'dir');
    if (this.#kinds.get(key) === 'dir') return; // repeated, or created earlier for a child
    await this.#mkdir(key);
  }

  /** Writes a file from `chunks`, pulling the next chunk only once the last one is written. */
  async addFile(name: string, mode: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    const rest = this.#begin(name, 'file');
    const key = await this.#prepare(name, rest, 'file');
    const fileMode = (mode & 0o111) !== 0 ? 0o755 : 0o644;
    // 'wx' fails on anything already there, a symlink included: never written through.
    const handle = await open(join(this.#root, key), 'wx', fileMode);
    this.#kinds.set(key, 'file');
    try {
      await handle.chmod(fileMode);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const count = (n: number): void => {
      this.#countBytes(n, name);
    };
    // Counted before it is written: a limit stops the write at the chunk that passes it.
    await pipeline(async function* () {
      for await (const chunk of chunks) {
        count(chunk.length);
        yield chunk;
      }
    }, handle.createWriteStream());
  }

  async addSymlink(name: string, linkTarget: string): Promise<void> {
    const rest = this.#begin(name, 'symlink');
    checkLinkText(name, linkTarget, 'symlink');
    if (linkTarget.startsWith('/')) {
      throw invalid(`absolute symlink target: ${quote(name)} -> ${quote(linkTarget)}`);
    }
    const key = await this.#prepare(name, rest, 'symlink');
    this.#checkLink(name, rest.slice(0, -1), linkTarget);
    await symlink(linkTarget, join(this.#root, key));
    this.#kinds.set(key, 'symlink');
    this.#links.set(key, linkTarget);
  }

  /** A tar hard link: `linkPath` names an earlier entry, from the archive's root. */
  async addHardlink(name: string, linkPath: string): Promise<void> {
    const rest = this.#begin(name, 'file');
    checkLinkText(name, linkPath, 'hard link');
    let source: string[];
    try {
      source = splitName(linkPath);
    } catch {
      throw invalid(`hard link leads out of the package: ${quote(name)} -> ${quote(linkPath)}`);
    }
    if (source[0] !== this.#id || source.length < 2) {
      throw invalid(`hard link leads out of the package: ${quote(name)} -> ${quote(linkPath)}`);
    }
    const sourceKey = source.slice(1).join('/');
    if (this.#kinds.get(sourceKey) !== 'file') {
      throw invalid(`hard link to a missing entry: ${quote(name)} -> ${quote(linkPath)}`);
    }
    const key = await this.#prepare(name, rest, 'file');
    await link(join(this.#root, sourceKey), join(this.#root, key));
    this.#kinds.set(key, 'file');
  }

  /** Counts decompressed archive bytes that are not file content (tar headers, padding...). */
  countStream(n: number): void {
    this.#streamBytes += n;
    this.#checkLimits(this.#streamBytes, this.#lastName);
  }

  /** Refuses an archive whose own index announces more entries than the limit. */
  checkAnnouncedEntries(count: number): void {
    if (count > this.#limits.maxEntries) {
      throw invalid(`the package has more than ${this.#limits.maxEntries} entries (${count})`);
    }
  }

  /** Ends the extraction: the archive had content, and every symlink stays inside after all. */
  finish(): ExtractedPackage {
    if (this.#id === undefined) throw invalid('the archive is empty');
    // A link checked on arrival may lead out through a symlink the archive created later
    // (`y -> x/up/..` before `x/up -> ..`): check them all again with the whole archive known.
    for (const [key, linkTarget] of this.#links) {
      this.#checkLink(`${this.#id}/${key}`, key.split('/').slice(0, -1), linkTarget);
    }
    return { id: this.#id, entries: this.#entries, bytes: this.#bytes };
  }

  /** A name the file system cannot take is the package's fault: say which entry it was. */
  explain(error: unknown): unknown {
    if (error instanceof Error && 'code' in error && error.code === 'ENAMETOOLONG') {
      return invalid(`entry name too long: ${quote(this.#lastName)}`);
    }
    return error;
  }

  /**
   * Refuses an entry whose declared size alone passes a limit, before anything is written. The
   * declaration is trusted only to refuse: the bytes written are counted as well.
   */
  checkDeclared(size: number, name: string): void {
    this.#checkLimits(this.#bytes + size, name);
  }

  #countBytes(n: number, name: string): void {
    this.#bytes += n;
    this.#checkLimits(this.#bytes, name);
  }

  #checkLimits(total: number, name: string): void {
    const { maxBytes, maxRatio } = this.#limits;
    const at = name === '' ? '' : ` (at ${quote(name)})`;
    if (total > maxBytes) {
      throw invalid(`the package unpacks to more than ${maxBytes} bytes${at}`);
    }
    // Small packages may compress very well (text, padding): the ratio matters only for sizes
    // that could hurt.
    if (total > ratioFloor && total > maxRatio * this.#archiveSize) {
      throw invalid(`the package unpacks to more than ${maxRatio} times its size${at}`);
    }
  }

  /**
   * Counts the entry and checks its name and place: returns its path inside the top folder
   * (empty for the top folder itself). The first entry fixes the top folder, hence the id.
   */
  #begin(name: string, kind: Kind): string[] {
    this.#lastName = name;
    this.#entries += 1;
    if (this.#entries > this.#limits.maxEntries) {
      throw invalid(
        `the package has more than ${this.#limits.maxEntries} entries (at ${quote(name)})`,
      );
    }
    const segments = splitName(name);
    const [top, ...rest] = segments;
    if (top === undefined) {
      if (kind === 'dir') return []; // `./`: the archive's root, nothing to create
      throw invalid(`entry without a name: ${quote(name)}`);
    }
    if (rest.length === 0 && kind !== 'dir') {
      throw invalid(`a ${kind} at the top level (a package has one top folder): ${quote(name)}`);
    }
    if (this.#id === undefined) {
      if (this.#expectedId !== undefined && top !== this.#expectedId) {
        throw invalid(
          `the top folder ${quote(top)} is not the app id ${quote(this.#expectedId)} (entry ${quote(name)})`,
        );
      }
      if (!appIdPattern.test(top)) {
        throw packageError(
          'INVALID_APP_ID',
          `invalid app id ${quote(top)} (the package's top folder): ${idRule}`,
        );
      }
      this.#id = top;
    } else if (top !== this.#id) {
      throw invalid(
        `more than one top folder: ${quote(this.#id)} and ${quote(top)} (entry ${quote(name)})`,
      );
    }
    return rest;
  }

  /**
   * Makes sure every parent of the entry is a folder this archive created (creating missing
   * ones) and that the entry does not clash with an earlier one. Returns the entry's key.
   */
  async #prepare(name: string, rest: string[], kind: Kind): Promise<string> {
    for (let i = 1; i < rest.length; i += 1) {
      const parent = rest.slice(0, i).join('/');
      const parentKind = this.#kinds.get(parent);
      if (parentKind === undefined) await this.#mkdir(parent);
      else if (parentKind !== 'dir') {
        throw invalid(
          `entry ${quote(name)} lies inside a ${parentKind === 'symlink' ? 'symlink' : 'file'} (${quote(`${this.#id ?? ''}/${parent}`)})`,
        );
      }
    }
    const key = rest.join('/');
    const existing = this.#kinds.get(key);
    if (existing !== undefined && !(existing === 'dir' && kind === 'dir')) {
      throw invalid(
        existing === kind
          ? `duplicate entry: ${quote(name)}`
          : `entry ${quote(name)} would turn a ${existing} into a ${kind}`,
      );
    }
    return key;
  }

  async #mkdir(key: string): Promise<void> {
    const path = join(this.#root, key);
    await mkdir(path, { mode: 0o755 }); // fails on anything already there
    this.#kinds.set(key, 'dir');
    await chmod(path, 0o755);
  }

  /**
   * Refuses a symlink in the folder `from` (inside the package) when following `linkTarget`
   * leaves the package or loops: resolved the way the kernel would, through the symlinks this
   * archive has created so far.
   */
  #checkLink(name: string, from: string[], linkTarget: string): void {
    const current = [...from];
    const pending = linkTarget.split('/').reverse();
    let hops = 0;
    while (pending.length > 0) {
      const segment = pending.pop()!;
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (current.length === 0) {
          throw invalid(`symlink leads out of the package: ${quote(name)} -> ${quote(linkTarget)}`);
        }
        current.pop();
        continue;
      }
      current.push(segment);
      const next = this.#links.get(current.join('/'));
      if (next === undefined) continue;
      hops += 1;
      if (hops > maxLinkHops) {
        throw invalid(`symlink loop: ${quote(name)} -> ${quote(linkTarget)}`);
      }
      // Only links checked on arrival are in the map, so none is absolute.
      current.pop();
      pending.push(...next.split('/').reverse());
    }
  }
}
