/**
 * HTTP byte ranges of a download (RFC 9110 §14): one range of `Range: bytes=...`, and whether
 * `If-Range` still names the file, so a download resumed after the file changed starts over.
 */

/** The first and last byte (inclusive) to send. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The range `header` asks of a file of `size` bytes: a {@link ByteRange}, `'unsatisfiable'`
 * (416) when it starts at or after the end, or undefined to send the whole file: no header,
 * another unit, several ranges or a malformed one (which a server may ignore).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // The last n bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}

/**
 * Whether the `If-Range` validator still names the file: its strong entity tag exactly (a weak
 * one never matches), or its Last-Modified date to the second. Without the header: true.
 */
export function ifRangeHolds(
  header: string | undefined,
  file: { etag: string; modifiedAt: Date },
): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === file.etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Math.floor(file.modifiedAt.getTime() / 1000) * 1000;
}
