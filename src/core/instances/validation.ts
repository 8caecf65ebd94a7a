import { AppvisorError } from '../errors/index.js';

/** Trace flags of specs/platform.md ("Logs and traces"), one bit each. */
export const traceFlagNames = [
  'app',
  'app-websocket',
  'config',
  'database',
  'db-files',
  'dns',
  'file',
  'files',
  'http-client',
  'http-file',
  'process',
  'smtp',
  'tcp',
  'tls',
  'udp',
  'websocket-client',
  'webserver',
  'webserver-traffic',
  'webdav',
  'alarm-client',
  'time',
] as const;

const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
const labelPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const segmentPattern = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;

function invalid(message: string, field: string): AppvisorError {
  return new AppvisorError('INVALID_INSTANCE', message, { field });
}

/** Instance ids have the syntax of app ids. */
export function checkInstanceId(id: string): void {
  if (!idPattern.test(id)) {
    throw invalid(
      `"${id}" is not a valid instance id: use 1 to 64 characters of A-Z a-z 0-9 _ -`,
      'id',
    );
  }
}

/** A DNS name (`example.com`); returned in lower case. */
export function normalizeDomain(domain: string): string {
  const lower = domain.trim().toLowerCase().replace(/\.$/, '');
  if (
    lower.length === 0 ||
    lower.length > 253 ||
    !lower.split('.').every((label) => labelPattern.test(label))
  ) {
    throw invalid(`"${domain}" is not a valid domain name`, 'domain');
  }
  return lower;
}

/**
 * A web path: `/` and segments, no empty, `.` or `..` segment, not `/` itself, not `/manager`
 * or `/.appvisor` or below them. Case is kept (paths are case-sensitive); a trailing slash is dropped.
 */
export function normalizePath(path: string): string {
  const trimmed = path.trim().replace(/\/+$/, '');
  if (!trimmed.startsWith('/') || trimmed.length === 0) {
    throw invalid(
      trimmed === ''
        ? 'the path / is the whole site: choose a path below it'
        : `the path "${path}" must start with /`,
      'path',
    );
  }
  const segments = trimmed.slice(1).split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || !segmentPattern.test(segment)) {
      throw invalid(`the path "${path}" has an invalid segment "${segment}"`, 'path');
    }
  }
  if (segments[0] === 'manager')
    throw invalid(`the path "${path}" is under /manager, which the admin UI uses`, 'path');
  if (segments[0] === '.appvisor')
    throw invalid(`the path "${path}" is under /.appvisor, which the front uses`, 'path');
  if (trimmed.length > 512) throw invalid('the path is longer than 512 characters', 'path');
  return trimmed;
}

/** An instance password given by the admin: 8 to 256 characters, no control characters. */
export function checkPassword(password: string): void {
  if (password.length < 8 || password.length > 256 || /[\p{Cc}]/u.test(password)) {
    throw invalid(
      'the instance password must be 8 to 256 characters, without control characters',
      'password',
    );
  }
}

/**
 * Applies `+flag` / `-flag` changes (a bare `flag` means `+flag`) to a set of flags. Flags are
 * those of the spec plus the ones the app declares in app.json.
 */
export function applyTraceChanges(
  current: readonly string[],
  changes: readonly string[],
  extra: readonly string[] = [],
): string[] {
  const known = new Set<string>([...traceFlagNames, ...extra]);
  const flags = new Set(current);
  for (const change of changes) {
    const remove = change.startsWith('-');
    const name = change.replace(/^[+-]/, '');
    if (!known.has(name)) {
      throw invalid(`unknown trace flag "${name}"; known: ${[...known].join(', ')}`, 'changes');
    }
    if (remove) flags.delete(name);
    else flags.add(name);
  }
  return [...flags].sort();
}
