import { randomUUID } from 'node:crypto';
import { link, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises';
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
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  const me = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
  let delay = 2;
  for (;;) {
    throwIfAborted(o.signal);
    if (await tryCreate(path, me)) break;
    const holder = await readFile(path, 'utf8').catch(() => undefined);
    if (holder === undefined) continue; // released meanwhile
    if (holder === '' ? await emptyAndOld(path) : isStale(holder)) {
      const again = await readFile(path, 'utf8').catch(() => undefined);
      if (again === holder) await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new StoreLockedError(path, holder.trim() || 'an unknown process');
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  await sweepLockTemps(path);
  try {
    return await fn();
  } finally {
    const cur = await readFile(path, 'utf8').catch(() => '');
    if (cur === me) await unlink(path).catch(() => undefined);
  }
}

/** An empty lock file older than this (ms) is left over from a crash of an older version. */
const EMPTY_LOCK_GRACE_MS = 5_000;

/** Returns true after creating `path` with `content` atomically (temp file + link); false when it exists. */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  await writeFile(tmp, content, { flag: 'wx', mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function emptyAndOld(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && st.size === 0 && Date.now() - st.mtimeMs > EMPTY_LOCK_GRACE_MS;
}

/** Removes `<path>.tmp-<pid>-*` files of processes that are gone (killed while taking the lock). Best effort. */
async function sweepLockTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.tmp-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    const st = await stat(join(dirname(path), n)).catch(() => undefined);
    if (st && Number.isInteger(pid) && ownerGone(pid, createdMs(st))) await unlink(join(dirname(path), n)).catch(() => undefined);
  }
}

/** Returns the content of the lock file at `path` when its holder is gone (a stale lock), else undefined. */
export async function staleLockHolder(path: string): Promise<string | undefined> {
  const holder = await readFile(path, 'utf8').catch(() => undefined);
  if (holder === undefined) return undefined;
  if (holder === '') return (await emptyAndOld(path)) ? 'an unknown process (empty lock file)' : undefined;
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
