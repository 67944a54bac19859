/**
 * SHA-256 on a worker thread: a big layer's diffID (the hash of 512 MiB of tar is ~0.4 s of one core) is computed
 * beside the main thread, which reads the files, checks or compresses the segments and hashes and writes the blob.
 *
 * The bytes go through a ring in a SharedArrayBuffer: `update` copies a chunk in (a memcpy into memory that stays
 * mapped, ~10× cheaper than the hash) and publishes how far it wrote; the worker hashes what was published and
 * publishes how far it read, which frees the space. `update` waits (without blocking the event loop) only when
 * the ring is full. The worker is plain JavaScript evaluated from a string, so it needs no file of its own beside
 * the bundled CLI.
 */
import { Worker } from 'node:worker_threads';
import type { Digest } from '../core/index.js';

/** Ring size: a few segments ahead of the worker. */
const RING_BYTES = 16 << 20;

/**
 * Control words (BigInt64): bytes written, bytes hashed, ended (1), a sequence bumped on every publish, and
 * whether the worker (resp. the main thread) is waiting: a wake-up (a futex call) is made only then.
 */
const WRITTEN = 0;
const HASHED = 1;
const ENDED = 2;
const SEQ = 3;
const WORKER_WAITS = 4;
const MAIN_WAITS = 5;
const CONTROL_WORDS = 6;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const c = new BigInt64Array(workerData.ctl);
const ring = Buffer.from(workerData.ring);
const size = ring.length;
const h = createHash('sha256');
let hashed = 0;
for (;;) {
  const seq = Atomics.load(c, ${SEQ});
  const written = Number(Atomics.load(c, ${WRITTEN}));
  if (written === hashed) {
    if (Atomics.load(c, ${ENDED}) === 1n) break;
    Atomics.store(c, ${WORKER_WAITS}, 1n);
    Atomics.wait(c, ${SEQ}, seq);
    Atomics.store(c, ${WORKER_WAITS}, 0n);
    continue;
  }
  let from = hashed % size;
  let n = written - hashed;
  while (n > 0) {
    const k = Math.min(n, size - from);
    h.update(ring.subarray(from, from + k));
    from = (from + k) % size;
    n -= k;
  }
  hashed = written;
  Atomics.store(c, ${HASHED}, BigInt(hashed));
  if (Atomics.load(c, ${MAIN_WAITS}) === 1n) Atomics.notify(c, ${HASHED});
}
parentPort.postMessage(h.digest('hex'));
`;

/** Atomics.waitAsync (Node ≥ 16; not in this TypeScript lib). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: BigInt64Array, i: number, v: bigint): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** A SHA-256 computed on a worker thread (see the header); `digest()` once, or `close()` to give up. */
export class ThreadHasher {
  readonly #ring = new SharedArrayBuffer(RING_BYTES);
  readonly #bytes = Buffer.from(this.#ring);
  readonly #ctl = new BigInt64Array(new SharedArrayBuffer(CONTROL_WORDS * 8));
  readonly #worker: Worker;
  readonly #result: Promise<string>;
  #written = 0;

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring: this.#ring, ctl: this.#ctl.buffer } });
    this.#result = new Promise<string>((resolve, reject) => {
      this.#worker.once('message', (hex: string) => resolve(hex));
      this.#worker.once('error', reject);
      this.#worker.once('exit', (code) => reject(new Error(`the hashing thread exited (${code}) before its digest`)));
    });
    this.#result.catch(() => undefined); // awaited by digest()
  }

  /** Bytes given to update so far. */
  get size(): number {
    return this.#written;
  }

  /** Hashes `b` next (copied into the ring: `b` may be reused once this resolves). */
  async update(b: Uint8Array): Promise<void> {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    let off = 0;
    while (off < buf.length) {
      const hashed = Number(Atomics.load(this.#ctl, HASHED));
      const free = RING_BYTES - (this.#written - hashed);
      if (free === 0) {
        Atomics.store(this.#ctl, MAIN_WAITS, 1n);
        const w = waitAsync(this.#ctl, HASHED, BigInt(hashed));
        if (w.async) await Promise.race([w.value, this.#result]);
        Atomics.store(this.#ctl, MAIN_WAITS, 0n);
        continue;
      }
      const at = this.#written % RING_BYTES;
      const k = Math.min(free, buf.length - off, RING_BYTES - at);
      buf.copy(this.#bytes, at, off, off + k);
      off += k;
      this.#written += k;
      this.#publish();
    }
  }

  /** The digest of everything given to update (the thread ends). */
  async digest(): Promise<Digest> {
    Atomics.store(this.#ctl, ENDED, 1n);
    this.#publish();
    return `sha256:${await this.#result}` as Digest;
  }

  /** Ends the thread without a digest (a pack that failed). */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  #publish(): void {
    Atomics.store(this.#ctl, WRITTEN, BigInt(this.#written));
    Atomics.add(this.#ctl, SEQ, 1n);
    if (Atomics.load(this.#ctl, WORKER_WAITS) === 1n) Atomics.notify(this.#ctl, SEQ);
  }
}
