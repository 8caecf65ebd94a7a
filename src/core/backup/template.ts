import { hasControlChars } from '../../lib/text-escape.js';
import { AppvisorError } from '../errors/index.js';

/** The values a backup name template may use. */
export interface TemplateValues {
  /** `#L`: the platform label. */
  label: string;
  /** `#A`: the app id. */
  app: string;
  /** `#I`: the instance id. */
  instance: string;
  /** `#D`: the instance domain. */
  domain: string;
  /** `#m`: a MAC address of this machine, lowercase hex without separators. */
  mac: string;
  /** `#d`: the time of the backup, written in UTC as `YYYYMMDD-hhmmss`. */
  time: Date;
  /** `#bn`: the rolling slot. */
  slot: number;
}

/** The default template: one folder per app, a dated archive per backup. */
export const defaultTemplate = '#A/#I-#d.tar';

function utcStamp(time: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    `${pad(time.getUTCFullYear(), 4)}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())}-` +
    `${pad(time.getUTCHours())}${pad(time.getUTCMinutes())}${pad(time.getUTCSeconds())}`
  );
}

/** A value must stay one path segment part: no separators, nothing hidden or relative. */
function segmentSafe(value: string): string {
  return value.replace(/[/\\\0]/g, '_');
}

type Token = { text: string } | { field: keyof TemplateValues };

const fieldOf = new Map<string, keyof TemplateValues>([
  ['L', 'label'],
  ['A', 'app'],
  ['I', 'instance'],
  ['D', 'domain'],
  ['m', 'mac'],
  ['d', 'time'],
]);

/** Splits a template into text and fields; throws `TEMPLATE_INVALID` for an unknown `#x`. */
function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '#') {
      text += c;
      continue;
    }
    const next = template[i + 1];
    const field: keyof TemplateValues | null | undefined =
      next === '#'
        ? null
        : next === 'b' && template[i + 2] === 'n'
          ? 'slot'
          : fieldOf.get(next ?? '');
    if (field === null) {
      text += '#';
      i++;
    } else if (field === undefined) {
      throw new AppvisorError(
        'TEMPLATE_INVALID',
        `unknown "#${next ?? ''}" at ${i + 1} in "${template}": use #L #A #I #D #m #d #bn or ##`,
      );
    } else {
      if (text) tokens.push({ text });
      text = '';
      tokens.push({ field });
      i += field === 'slot' ? 2 : 1;
    }
  }
  if (text) tokens.push({ text });
  return tokens;
}

/**
 * Checks a template without values: known hash parameters only, a relative path that stays
 * inside the backup folder, not empty. Throws `TEMPLATE_INVALID` with the reason.
 */
export function checkTemplate(template: string): void {
  if (template.length === 0 || template.length > 500) {
    throw new AppvisorError('TEMPLATE_INVALID', 'a template has 1 to 500 characters');
  }
  // A NUL reached the file calls only after the whole dump; a newline would split the name.
  if (hasControlChars(template)) {
    throw new AppvisorError('TEMPLATE_INVALID', 'a template must not contain control characters');
  }
  tokenize(template);
  if (template.startsWith('/')) {
    throw new AppvisorError('TEMPLATE_INVALID', 'a template is relative to the backup folder');
  }
  if (template.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new AppvisorError(
      'TEMPLATE_INVALID',
      `"${template}" has an empty, "." or ".." path segment`,
    );
  }
}

/** Whether the template names rolling slots (`#bn`), so names repeat. */
export function usesSlots(template: string): boolean {
  return tokenize(template).some((token) => 'field' in token && token.field === 'slot');
}

/**
 * The relative file name of a backup: the template with its hash parameters replaced.
 * Values never add a path separator (a `/` in a value becomes `_`).
 */
export function expandTemplate(template: string, values: TemplateValues): string {
  checkTemplate(template);
  const name = tokenize(template)
    .map((token) => {
      if ('text' in token) return token.text;
      switch (token.field) {
        case 'time':
          return utcStamp(values.time);
        case 'slot':
          return String(values.slot);
        default:
          return segmentSafe(values[token.field]);
      }
    })
    .join('');
  // A value alone in a segment could still be "." or ".." or empty.
  if (name.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new AppvisorError('TEMPLATE_INVALID', `"${template}" gives the unusable name "${name}"`);
  }
  return name;
}
