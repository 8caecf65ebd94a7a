/**
 * The checks and messages every reader of package archives shares: the one place that builds
 * their errors, entry names split and refused, names quoted for a message.
 */
import { AppvisorError } from '../errors/index.js';

export const idRule = 'an app id is 1 to 64 characters of A-Z a-z 0-9 _ -';

/** The one place that builds this module's errors. */
export function packageError(code: 'PACKAGE_INVALID' | 'INVALID_APP_ID', message: string): Error {
  return new AppvisorError(code, message);
}

/** A PACKAGE_INVALID error. */
export function invalid(message: string): Error {
  return packageError('PACKAGE_INVALID', message);
}

/**
 * Splits an entry name into its segments, dropping empty and `.` ones (`./app/x`, `app//x`,
 * a folder's trailing slash); refuses what could point anywhere but below the archive's root.
 */
export function splitName(name: string): string[] {
  if (name.includes('\0')) throw invalid(`entry name with a NUL byte: ${quote(name)}`);
  if (name.includes('\\')) throw invalid(`entry name with a backslash: ${quote(name)}`);
  if (name.startsWith('/')) throw invalid(`absolute entry name: ${quote(name)}`);
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw invalid(`entry name with a '..' segment: ${quote(name)}`);
  return segments;
}

/** Refuses an empty link target, or one with a NUL byte or a backslash. */
export function checkLinkText(name: string, text: string, what: string): void {
  if (text === '' || text.includes('\0') || text.includes('\\')) {
    throw invalid(`invalid ${what} target: ${quote(name)} -> ${quote(text)}`);
  }
}

/** A name for a message: quoted, control characters escaped, very long names shortened. */
export function quote(name: string): string {
  let text = '';
  for (const char of name.length > 200 ? `${name.slice(0, 200)}…` : name) {
    const code = char.charCodeAt(0);
    text += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  }
  return `"${text}"`;
}

/** True for an error of the system (the file system, a read), as opposed to the archive's. */
export function isSystemError(error: unknown): boolean {
  return error instanceof Error && 'syscall' in error;
}

/** True for a refusal of the package itself (an AppvisorError of these checks). */
export function isPackageError(error: unknown): boolean {
  return error instanceof AppvisorError;
}
