/**
 * SHA-256 of a blob's temp file, computed on a worker thread that reads the file back (from the page cache) behind
 * its writer: putBlob's main thread then only receives and writes a big download, and hashes nothing (issue 22,
 * the T1 pull: SHA-256 was ~45% of the main thread's time). The writer tells the job how far the file is written
 * (`written`); the worker reads up to there into one reused 256 KiB buffer (hot in the CPU cache, so the hash runs
 * faster than over the freshly received buffers) and hashes it. `finish(size)` resolves with the digest of the
 * file's first `size` bytes once the worker has read them all, so putBlob can compare it before the rename.
 *
 * Why a file read and not the bytes themselves: handing the received buffers to a worker (transferred, copied
 * into shared memory, or through a shared ring) cost more in copies, page faults and messages than it saved
 * (registry-client/README.md); a read from the page cache is one memcpy into a buffer the worker keeps.
 *
 * One worker per FileHasher (one per LayerStore), started on first use; it keeps the process alive only while a
 * job is open, and ends after IDLE_MS without one (a library process that opens many stores keeps no idle threads).
 * It opens each temp file by path, read-only, and closes it when the job ends or is dropped. When the worker fails
 * or exits, a job that was not dropped hashes its file on the calling thread instead (finish reads it back from the
 * page cache): the blob is still verified and stored. The next job starts a new worker.
 */
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Hasher, TsbuildError, type Digest } from '../core/index.js';

/**
 * The smallest blob a FileHasher takes by default. Below it the worker's start (30-60 ms before its first hash) and
 * the tail it hashes after the last write cost more wall than the main thread saves: a pull of 4 × 32 MiB layers
 * took 0.46 s hashed behind against 0.37 s hashed on the way in (7 runs, load 8).
 */
export const HASH_BEHIND_MIN_BYTES = 64 * 1024 * 1024;

/** An idle worker ends after this long without a job (the next job starts a new one, 30-60 ms). */
const IDLE_MS = 10_000;

/** Bytes the worker reads per pread: fits the CPU's L2 cache, so the hash reads it hot. */
const READ_BYTES = 256 * 1024;

/**
 * The worker's code (CommonJS, run with `eval`, so nothing has to be bundled as a separate file). Messages in:
 * `{op:'open', id, path}`, `{op:'written', id, upTo}`, `{op:'end', id, size}`, `{op:'drop', id}`; out:
 * `{id, digest, size}` when a job ended, `{id, error}` when it failed.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(${READ_BYTES});
const jobs = new Map();
function close(id) {
  const j = jobs.get(id);
  if (!j) return;
  jobs.delete(id);
  try { closeSync(j.fd); } catch {}
}
function fail(id, e) {
  close(id);
  parentPort.postMessage({ id, error: String(e && e.message || e) });
}
function advance(j, upTo) {
  while (j.at < upTo) {
    const n = readSync(j.fd, buf, 0, Math.min(buf.length, upTo - j.at), j.at);
    if (n === 0) return false;
    j.h.update(n === buf.length ? buf : buf.subarray(0, n));
    j.at += n;
  }
  return true;
}
parentPort.on('message', (m) => {
  if (m.op === 'open') {
    try { jobs.set(m.id, { fd: openSync(m.path, 'r'), h: createHash('sha256'), at: 0 }); } catch (e) { fail(m.id, e); }
    return;
  }
  if (m.op === 'drop') { close(m.id); return; }
  const j = jobs.get(m.id);
  if (!j) return;
  try {
    if (m.op === 'written') { advance(j, m.upTo); return; }
    if (m.op === 'end') {
      const whole = advance(j, m.size);
      const size = j.at;
      const digest = 'sha256:' + j.h.digest('hex');
      close(m.id);
      parentPort.postMessage(whole ? { id: m.id, digest, size } : { id: m.id, error: 'the file has ' + size + ' bytes, fewer than the ' + m.size + ' written' });
    }
  } catch (e) { fail(m.id, e); }
});
`;

type Reply = { readonly id: number; readonly digest: Digest; readonly size: number } | { readonly id: number; readonly error: string };

/** One file being hashed behind its writer. */
export interface FileHashJob {
  /** The writer has written the file's first `upTo` bytes (call as often as convenient; each call is a message). */
  written(upTo: number): void;
  /**
   * Resolves with the digest and size of the file's first `size` bytes (the writer's total), hashed on this thread
   * when the worker stopped; rejects when the file is shorter or cannot be read.
   */
  finish(size: number): Promise<{ digest: Digest; size: number }>;
  /** Gives the job up (the write failed): the worker closes the file. Safe after finish. */
  drop(): void;
}

/** The error of a hash job that failed: the blob is not stored (putBlob removes its temp file). */
function hashFailed(what: string, cause?: unknown): TsbuildError {
  return new TsbuildError('IO', `hashing a blob's temp file failed: ${what}`, { hint: 'retry; the blob was not stored', ...(cause !== undefined ? { cause } : {}) });
}

/** What a job's reply promise rejects with when its worker stopped (finish then hashes on the calling thread). */
class WorkerStopped extends Error {}

/** SHA-256 of the first `size` bytes of the file at `path`, on this thread (the fallback when the worker stopped). */
async function hashHere(path: string, size: number): Promise<{ digest: Digest; size: number }> {
  const h = new Hasher();
  if (size > 0) for await (const chunk of createReadStream(path, { start: 0, end: size - 1, highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  if (h.size !== size) throw hashFailed(`the file has ${h.size} bytes, fewer than the ${size} written`);
  return { digest: h.digest(), size };
}

/** Hashes temp files on one worker thread, behind their writers (see the file comment). */
export class FileHasher {
  /** putBlob gives this hasher only blobs of at least this many bytes (default HASH_BEHIND_MIN_BYTES). */
  readonly minBytes: number;
  readonly #idleMs: number;
  #worker: Worker | undefined;
  #idle: NodeJS.Timeout | undefined;
  #nextId = 1;
  /** Open jobs: what to do with the worker's reply. */
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();

  constructor(o: { readonly minBytes?: number; readonly idleMs?: number } = {}) {
    this.minBytes = o.minBytes ?? HASH_BEHIND_MIN_BYTES;
    this.#idleMs = o.idleMs ?? IDLE_MS;
  }

  /** Starts hashing the file at `path` (already created by the writer; opened read-only by the worker). */
  start(path: string): FileHashJob {
    const w = this.#ensureWorker();
    clearTimeout(this.#idle);
    this.#idle = undefined;
    const id = this.#nextId++;
    let reply: Promise<Reply> | undefined;
    let dropped = false;
    const settled = new Promise<Reply>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    settled.catch(() => undefined);
    w.ref();
    w.postMessage({ op: 'open', id, path });
    const done = (): void => {
      if (this.#pending.delete(id) && this.#pending.size === 0) this.#whenIdle();
    };
    return {
      written: (upTo) => {
        if (!dropped) w.postMessage({ op: 'written', id, upTo });
      },
      finish: async (size) => {
        if (!reply) {
          w.postMessage({ op: 'end', id, size });
          reply = settled.finally(done);
        }
        let r: Reply;
        try {
          r = await reply;
        } catch (e) {
          if (e instanceof WorkerStopped) return hashHere(path, size);
          throw e;
        }
        if ('error' in r) throw hashFailed(r.error);
        return { digest: r.digest, size: r.size };
      },
      drop: () => {
        if (dropped || reply) return;
        dropped = true;
        w.postMessage({ op: 'drop', id });
        done();
      },
    };
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, stdout: false, stderr: false });
    w.unref();
    w.on('message', (r: Reply) => this.#pending.get(r.id)?.resolve(r));
    const lost = (e: unknown): void => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      const jobs = [...this.#pending.values()];
      this.#pending.clear();
      for (const j of jobs) j.reject(new WorkerStopped('the hashing thread stopped', { cause: e }));
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`exit code ${code}`)));
    this.#worker = w;
    return w;
  }

  /** No job is open: the worker no longer keeps the process alive, and ends after IDLE_MS unless a job comes. */
  #whenIdle(): void {
    const w = this.#worker;
    if (!w) return;
    w.unref();
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#worker !== w || this.#pending.size > 0) return;
      this.#worker = undefined;
      void w.terminate();
    }, this.#idleMs);
    this.#idle.unref();
  }

  /** Whether a worker thread is running. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Ends the worker now. Open jobs hash their files on the thread that calls finish; the next job starts a new worker. */
  async terminate(): Promise<void> {
    const w = this.#worker;
    clearTimeout(this.#idle);
    if (w) await w.terminate();
  }
}
