import { CliError } from './client.js';

/** A query string of the given values (undefined ones left out), `?` first; empty when none. */
export function query(params: Record<string, string | boolean | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A whole number given to `flag`, or undefined when not given; BAD_REQUEST otherwise. */
export function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new CliError('BAD_REQUEST', `${flag} takes a whole number, not "${value}"`);
  return Number(value);
}
