/** Docker's human-readable sizes and durations (github.com/docker/go-units), for `images` and `history`. */
import { sprintf } from '../go-template/index.js';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Returns `n` bytes as go-units HumanSizeWithPrecision(n, 3): base 1000, `%.3g` (7.8MB, 1.23kB, 500B). */
export function humanSize(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${sprintf('%.3g', [v])}${UNITS[i]}`;
}

/** Returns a duration as go-units HumanDuration writes it ("Less than a second", "About a minute", "3 days"). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3600000) / 24 / 365)} years`;
}

/** Returns docker's "N units ago" for an RFC 3339 time, or "N/A" when there is none. */
export function since(created: string | undefined, now = Date.now()): string {
  const t = created ? Date.parse(created) : NaN;
  if (Number.isNaN(t) || t <= 0) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Returns an RFC 3339 time as Go's time.Time.String() in UTC: `2024-01-02 15:04:05 +0000 UTC`. */
export function goTimeString(created: string | undefined): string {
  const t = created ? new Date(created) : new Date(0);
  const iso = (Number.isNaN(t.getTime()) ? new Date(0) : t).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}

/** Returns an RFC 3339 time as Go's RFC3339Nano formats it (trailing zeros of the fraction dropped). */
export function rfc3339Nano(s: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return s;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  return `${m[1]}${frac === '.' ? '' : frac}${m[3]}`;
}
