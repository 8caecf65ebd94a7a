import { duration } from '../../src/lib/format.js';

export { bytes, duration } from '../../src/lib/format.js';

/** A date and time in the browser's locale. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return new Date(iso).toLocaleString();
}

/** A time of day in the browser's locale. */
export function time(iso: string | Date): string {
  return new Date(iso).toLocaleTimeString();
}

/** "in 3s", "5m ago". */
export function relative(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  return seconds >= 0 ? `in ${duration(seconds)}` : `${duration(-seconds)} ago`;
}
