/**
 * Finds the line of a key in a JSON text, so an error in an edited configuration file can say
 * where to look. A small scanner over already-valid JSON (JSON.parse has accepted the text):
 * it walks values in order, keeping the path to the current one, and stops at the wanted path.
 */

interface Cursor {
  text: string;
  at: number;
  line: number;
}

function skipSpace(cursor: Cursor): void {
  const { text } = cursor;
  while (cursor.at < text.length) {
    const char = text[cursor.at];
    if (char === '\n') cursor.line += 1;
    else if (char !== ' ' && char !== '\t' && char !== '\r') return;
    cursor.at += 1;
  }
}

/** Skips a string starting at the cursor's quote; returns its decoded text. */
function readString(cursor: Cursor): string {
  const start = cursor.at;
  cursor.at += 1;
  while (cursor.at < cursor.text.length) {
    const char = cursor.text[cursor.at];
    if (char === '\\') cursor.at += 2;
    else if (char === '"') break;
    else cursor.at += 1;
  }
  cursor.at += 1;
  return JSON.parse(cursor.text.slice(start, cursor.at)) as string;
}

/**
 * Walks one value; returns the line of `target` when it is this value or inside it, null when
 * it is not. `path` is where this value is.
 */
function walk(cursor: Cursor, path: PropertyKey[], target: readonly PropertyKey[]): number | null {
  skipSpace(cursor);
  if (path.length === target.length && path.every((part, i) => part === target[i])) {
    return cursor.line;
  }
  const inside = path.every((part, i) => part === target[i]);
  const open = cursor.text[cursor.at];
  if (open === '{' || open === '[') {
    cursor.at += 1;
    let index = 0;
    for (;;) {
      skipSpace(cursor);
      if (cursor.text[cursor.at] === (open === '{' ? '}' : ']')) {
        cursor.at += 1;
        return null;
      }
      let key: PropertyKey = index;
      if (open === '{') {
        const keyLine = cursor.line;
        key = readString(cursor);
        // A key that is the target's last step is reported on its own line.
        if (inside && path.length + 1 === target.length && key === target[path.length]) {
          return keyLine;
        }
        skipSpace(cursor);
        cursor.at += 1; // ':'
      }
      const found = walk(cursor, [...path, key], target);
      if (found !== null) return found;
      skipSpace(cursor);
      if (cursor.text[cursor.at] === ',') cursor.at += 1;
      index += 1;
    }
  }
  if (open === '"') readString(cursor);
  else {
    while (cursor.at < cursor.text.length && !',}] \t\r\n'.includes(cursor.text[cursor.at]!)) {
      cursor.at += 1;
    }
  }
  return null;
}

/** The 1-based line where the value at `path` (or its key) starts in `text`, if it is there. */
export function lineOf(text: string, path: readonly PropertyKey[]): number | undefined {
  try {
    return walk({ text, at: 0, line: 1 }, [], path) ?? undefined;
  } catch {
    return undefined;
  }
}
