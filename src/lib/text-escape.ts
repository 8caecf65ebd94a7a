/**
 * Characters that must never reach a log or a record raw: C0 controls (newline, carriage
 * return, ESC, ...), DEL, C1 controls, the Unicode line and paragraph separators, and the bidi
 * embeddings, overrides and isolates (they reorder what a reader sees). Tab is kept.
 */
const unsafe =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const named: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

function escapeOne(char: string): string {
  const named_ = named[char];
  if (named_) return named_;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Makes text from an untrusted source safe to write as (part of) one line of a log or a
 * record: every control and reordering character becomes a visible escape (`\n`, `\r`,
 * `\x1b`, `\u202e`), so the text can neither start a new line nor move the cursor, color a
 * terminal or reorder what follows it. Text longer than `maxLength` characters is cut and ends
 * with `…`. Backslashes are left as they are: the escapes are for a human reader, not meant to
 * be reversed.
 */
export function escapeControls(text: string, maxLength = Infinity): string {
  const cut = text.length > maxLength ? `${text.slice(0, Math.max(0, maxLength - 1))}…` : text;
  return cut.replace(unsafe, escapeOne);
}

/**
 * Whether text holds a character {@link escapeControls} would escape; with `multiline`,
 * newlines are allowed (a description), carriage returns and the rest are not.
 */
export function hasControls(text: string, multiline = false): boolean {
  const found = text.match(unsafe);
  return found !== null && (!multiline || found.some((char) => char !== '\n'));
}

/**
 * Whether text holds any control character, tab and newline included (C0, DEL, C1): what a
 * name, path, template or URL must never hold. A NUL makes Node's file calls throw, a newline
 * would split a line wherever the name is written.
 */
export function hasControlChars(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}
