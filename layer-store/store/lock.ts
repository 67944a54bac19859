import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { throwIfAborted, type Abortable } from '../core/index.js';
import { StoreLockedError } from './errors.js';
import { ownerGone } from './scratch.js';

export interface LockOptions extends Abortable {
  /** Give up after this many milliseconds (default 60 000). */
  readonly timeoutMs?: number;
}

/**
 * Runs `fn` while holding an inter-process lock file at `path`, created with O_EXCL and holding
 * `pid host time`. A lock whose pid is gone on this host is stale and broken (only when its content is
 * still the same one we read, so a freshly taken lock is not stolen). Always released in finally.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  const me = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
  let delay = 2;
  for (;;) {
    throwIfAborted(o.signal);
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(me);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readFile(path, 'utf8').catch(() => '');
    if (holder && isStale(holder)) {
      const again = await readFile(path, 'utf8').catch(() => '');
      if (again === holder) await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new StoreLockedError(path, holder.trim() || 'an unknown process');
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await fn();
  } finally {
    const cur = await readFile(path, 'utf8').catch(() => '');
    if (cur === me) await unlink(path).catch(() => undefined);
  }
}

/** Returns the content of the lock file at `path` when its holder is gone (a stale lock), else undefined. */
export async function staleLockHolder(path: string): Promise<string | undefined> {
  const holder = await readFile(path, 'utf8').catch(() => '');
  return holder && isStale(holder) ? holder.trim() : undefined;
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
