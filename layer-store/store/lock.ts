import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { throwIfAborted, type Abortable } from '../core/index.js';
import { StoreLockedError } from './errors.js';
import { createdMs, ownerGone } from './scratch.js';

export interface LockOptions extends Abortable {
  /** Give up after this many milliseconds (default 60 000). */
  readonly timeoutMs?: number;
}

/**
 * Runs `fn` while holding an inter-process lock file at `path` holding `pid host time`. The file appears with
 * its content in one step (written to a temp file, then hard-linked to `path`, which fails if it exists), so a
 * process killed while taking the lock never leaves an empty lock that nobody could judge stale. A lock whose
 * holder is gone on this host (pid gone or reused) is stale and broken (only when its content is still the one
 * we read, so a freshly taken lock is not stolen); so is an empty lock file older than a few seconds (written
 * by an older tsbuild). Always released in finally.
 *
 * The file operations are synchronous: each is a few microseconds of metadata work on a local disk, while an
 * async call costs a thread-pool round trip (~0.05-0.2 ms) and a build takes a lock at every step.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  const me = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
  let delay = 2;
  for (;;) {
    throwIfAborted(o.signal);
    if (await tryCreate(path, me)) break;
    const holder = readText(path);
    if (holder === undefined) continue; // released meanwhile
    if (holder === '' ? emptyAndOld(path) : isStale(holder)) {
      const again = readText(path);
      if (again === holder) quietly(() => unlinkSync(path));
      continue;
    }
    if (Date.now() > deadline) throw new StoreLockedError(path, holder.trim() || 'an unknown process');
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  sweepLockTemps(path);
  try {
    return await fn();
  } finally {
    if (readText(path) === me) quietly(() => unlinkSync(path));
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function quietly(f: () => unknown): void {
  try {
    f();
  } catch {
    // best effort
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** An empty lock file older than this (ms) is left over from a crash of an older version. */
const EMPTY_LOCK_GRACE_MS = 5_000;

/** Returns true after creating `path` with `content` atomically (temp file + link); false when it exists. */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  writeFileSync(tmp, content, { flag: 'wx', mode: 0o644 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    quietly(() => unlinkSync(tmp));
  }
}

function emptyAndOld(path: string): boolean {
  const st = statOrUndefined(path);
  return st !== undefined && st.size === 0 && Date.now() - st.mtimeMs > EMPTY_LOCK_GRACE_MS;
}

/** Removes `<path>.tmp-<pid>-*` files of processes that are gone (killed while taking the lock). Best effort. */
function sweepLockTemps(path: string): void {
  const prefix = `${basename(path)}.tmp-`;
  let names: string[] = [];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    const st = statOrUndefined(join(dirname(path), n));
    if (st && Number.isInteger(pid) && ownerGone(pid, createdMs(st))) quietly(() => unlinkSync(join(dirname(path), n)));
  }
}

/** Returns the content of the lock file at `path` when its holder is gone (a stale lock), else undefined. */
export async function staleLockHolder(path: string): Promise<string | undefined> {
  const holder = readText(path);
  if (holder === undefined) return undefined;
  if (holder === '') return emptyAndOld(path) ? 'an unknown process (empty lock file)' : undefined;
  return isStale(holder) ? holder.trim() : undefined;
}

/**
 * Returns true when the lock's holder is gone: its pid no longer exists on this host, or now belongs to a process
 * started after the lock was taken (a killed holder's pid reused by another process).
 */
function isStale(holder: string): boolean {
  const [pidS, host, time] = holder.trim().split(' ');
  const pid = Number(pidS);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (host !== hostname()) return false;
  const taken = Date.parse(time ?? '');
  return ownerGone(pid, Number.isNaN(taken) ? Infinity : taken);
}
