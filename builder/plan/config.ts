/**
 * The image config a stage builds (pure): the empty config of `FROM scratch`, copies, Env edits, history
 * entries, and the Go-compatible formatting BuildKit's config values and history strings use.
 */
import type { ContainerConfig, HistoryEntry, ImageConfig, Platform } from '../../layer-store/core/index.js';
import { HISTORY_COMMENT } from './history.js';

/** BuildKit's default PATH for Linux (system.DefaultPathEnv). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config of `FROM scratch` (BuildKit's emptyImage): PATH in Env and WorkingDir `/`. */
export function emptyConfig(p: Platform): ImageConfig {
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/** A deep copy of a config (configs are plain JSON). */
export function cloneConfig(c: ImageConfig): ImageConfig {
  return JSON.parse(JSON.stringify(c)) as ImageConfig;
}

/** Sets `k=v` in an Env list, replacing an existing `k` in place (BuildKit's addEnv). */
export function addEnv(env: readonly string[] | undefined, k: string, v: string): string[] {
  const out = [...(env ?? [])];
  const i = out.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === k);
  if (i >= 0) out[i] = `${k}=${v}`;
  else out.push(`${k}=${v}`);
  return out;
}

/** Returns the container config, creating it when missing. */
export function cc(c: ImageConfig): ContainerConfig {
  c.config ??= {};
  return c.config;
}

/** Appends a history entry (BuildKit's commitToHistory). */
export function commitHistory(c: ImageConfig, createdBy: string, withLayer: boolean, created: string): void {
  const h: HistoryEntry = { created, created_by: createdBy, comment: HISTORY_COMMENT };
  if (!withLayer) h.empty_layer = true;
  (c.history ??= []).push(h);
}

/** Parses EXPOSE port specs (`80`, `80/udp`, `8000-8002/tcp`) into ExposedPorts keys. */
export function exposedPortKeys(spec: string): string[] {
  const [range = '', proto = 'tcp'] = spec.split('/');
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (!m) return [`${range}/${proto.toLowerCase()}`];
  const a = Number(m[1]);
  const b = m[2] ? Number(m[2]) : a;
  const out: string[] = [];
  for (let p = a; p <= b && out.length < 65536; p++) out.push(`${p}/${proto.toLowerCase()}`);
  return out;
}

/** Formats a Go time.Duration given in nanoseconds as Go's String() does (`30s`, `1m30s`, `0s`). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const s = ns / 1e9;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s - h * 3600 - m * 60;
  return `${h ? h + 'h' : ''}${h || m ? m + 'm' : ''}${Number(sec.toFixed(9))}s`;
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ']);

/** True for a signal Docker's signal.ParseSignal accepts (`SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`). */
export function isValidSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const n = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(n) || /^RTMIN(\+\d+)?$/.test(n) || /^RTMAX(-\d+)?$/.test(n);
}
