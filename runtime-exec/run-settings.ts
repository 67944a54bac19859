/**
 * The container settings `docker buildx build` takes for every RUN (`--add-host`, `--ulimit`, `--shm-size`,
 * `--cgroup-parent`): their checks (each value that cannot be honoured is a USAGE error naming the flag) and how
 * they enter the OCI config (BuildKit's executor/oci: generateRlimitOpts, GenerateSpec's cgroupsPath, the
 * /dev/shm tmpfs). Pure.
 */
import { isIP } from 'node:net';
import { TsbuildError } from '../layer-store/core/index.js';
import type { ExtraHost, Ulimit } from './types.js';

/** The ulimit names Docker accepts (go-units ulimitNameMapping; `as` is left out there too). */
export const ULIMIT_NAMES: readonly string[] = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio',
  'rttime', 'sigpending', 'stack',
];

/** RLIM_INFINITY as runc reads it (uint64 max); JSON numbers cannot carry it, so the config text gets it raw. */
export const RLIM_INFINITY = '18446744073709551615';

/** An rlimit of `process.rlimits`: `-1` (unlimited) stays a marker until the config is serialised (ociConfigText). */
export interface OciRlimit {
  readonly type: string;
  readonly soft: number;
  readonly hard: number;
}

function usage(flag: string, value: string, why: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', `${flag} ${value}: ${why}`, { hint });
}

/** Throws a USAGE error unless `u` is a limit Docker takes: a known name, integers, soft ≤ hard (−1: unlimited). */
export function checkUlimit(u: Ulimit): void {
  const text = `${u.name}=${u.soft}:${u.hard}`;
  if (!ULIMIT_NAMES.includes(u.name)) throw usage('--ulimit', text, `unknown ulimit type ${JSON.stringify(u.name)}`, `use one of ${ULIMIT_NAMES.join(', ')}`);
  for (const v of [u.soft, u.hard]) {
    if (!Number.isSafeInteger(v) || v < -1) throw usage('--ulimit', text, `${v} is not a limit`, 'write a whole number, or -1 for unlimited');
  }
  if (u.hard !== -1 && (u.soft === -1 || u.soft > u.hard)) {
    throw usage('--ulimit', text, 'the soft limit is above the hard limit', 'write TYPE=SOFT:HARD with SOFT ≤ HARD');
  }
}

/** Returns `--ulimit TYPE=SOFT[:HARD]` as a Ulimit (go-units ParseUlimit: HARD defaults to SOFT). Throws USAGE. */
export function parseUlimit(s: string): Ulimit {
  const eq = s.indexOf('=');
  const m = /^(-?\d+)(?::(-?\d+))?$/.exec(eq < 0 ? '' : s.slice(eq + 1));
  if (eq < 0 || !m) throw usage('--ulimit', s, 'not TYPE=SOFT[:HARD]', 'e.g. --ulimit nofile=1024:2048');
  const soft = Number(m[1]);
  const u = { name: s.slice(0, eq), soft, hard: m[2] !== undefined ? Number(m[2]) : soft };
  checkUlimit(u);
  return u;
}

/** Throws a USAGE error unless `h` has a host name and an IP address (`host-gateway` is resolved before). */
export function checkExtraHost(h: ExtraHost): void {
  if (!/^[^\s#]+$/.test(h.host)) throw usage('--add-host', `${h.host}:${h.ip}`, 'the host name is empty or has blanks', 'write --add-host NAME:IP');
  if (isIP(h.ip) === 0) throw usage('--add-host', `${h.host}:${h.ip}`, `${JSON.stringify(h.ip)} is not an IP address`, 'write --add-host NAME:IP (IPv6 may be in brackets), or NAME:host-gateway');
}

/** Throws a USAGE error unless `bytes` is a positive whole number of bytes. */
export function checkShmSize(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw usage('--shm-size', String(bytes), 'the size must be a positive number of bytes', 'e.g. --shm-size 128m');
}

/**
 * Throws a USAGE error unless `parent` is a cgroupfs path runc can create the step's cgroup under: no `..`, no
 * blanks, and not systemd's `NAME.slice:prefix:` form (runc runs with the cgroupfs driver here).
 */
export function checkCgroupParent(parent: string): void {
  if (parent.includes('.slice') && parent.endsWith(':')) {
    throw usage('--cgroup-parent', parent, 'a systemd slice needs runc\'s systemd cgroup driver, which tsbuild does not use', 'give a cgroupfs path such as tsbuild-builds');
  }
  const parts = parent.split('/').filter(Boolean);
  if (parts.length === 0 || parts.some((p) => p === '..' || p === '.' || !/^[A-Za-z0-9_.@:+-]+$/.test(p))) {
    throw usage('--cgroup-parent', parent, 'not a cgroup path', 'give a path of letters, digits, dots, dashes and underscores, e.g. builds/tsbuild');
  }
}

/**
 * Returns the cgroupsPath of container `id`: `/<id>`, or under `parent` as BuildKit places it,
 * `/<parent>/tsbuild/<id>` (BuildKit's level is named `buildkit`).
 */
export function cgroupsPathFor(id: string, parent: string | undefined): string {
  if (parent === undefined) return `/${id}`;
  return `/${[...parent.split('/').filter(Boolean), 'tsbuild', id].join('/')}`;
}

/**
 * Returns the `process.rlimits` of a step: the given ulimits (`RLIMIT_<NAME>`), and RLIMIT_NOFILE = `nofile`
 * (soft = hard) unless a `nofile` ulimit is given.
 */
export function stepRlimits(ulimits: readonly Ulimit[] | undefined, nofile: number): OciRlimit[] {
  const out = (ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.name.toUpperCase()}`, soft: u.soft, hard: u.hard }));
  if (!out.some((r) => r.type === 'RLIMIT_NOFILE')) out.unshift({ type: 'RLIMIT_NOFILE', soft: nofile, hard: nofile });
  return out;
}

/** Returns the JSON text of an OCI config, with every rlimit of −1 written as RLIM_INFINITY. */
export function ociConfigText(config: Record<string, unknown>): string {
  const marker = '"__tsbuild_rlim_infinity__"';
  const text = JSON.stringify(config, (k, v: unknown) => ((k === 'soft' || k === 'hard') && v === -1 ? JSON.parse(marker) as string : v));
  return text.split(marker).join(RLIM_INFINITY);
}
