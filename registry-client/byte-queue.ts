/**
 * Bytes held as the blocks they were read in, handed on as lists of views of them, never joined: the blob upload
 * (destination.ts streamBlob) sends 16 MiB chunks, and joining each cost a T1 push more CPU in copies and garbage
 * collection than hashing it.
 */
export class ByteQueue {
  readonly #blocks: Buffer[] = [];
  #length = 0;

  /** Bytes held. */
  get length(): number {
    return this.#length;
  }

  push(b: Buffer): void {
    this.#blocks.push(b);
    this.#length += b.length;
  }

  /** Removes the first `n` bytes (n ≤ length) and returns them as views of the blocks they were in. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    for (let need = n; need > 0; ) {
      const b = this.#blocks[0]!;
      if (b.length <= need) {
        out.push(b);
        this.#blocks.shift();
        need -= b.length;
      } else {
        out.push(b.subarray(0, need));
        this.#blocks[0] = b.subarray(need);
        need = 0;
      }
    }
    this.#length -= n;
    return out;
  }
}

/** Returns views of bytes [from, to) of the concatenation of `bufs`, without copying. */
export function sliceBuffers(bufs: readonly Buffer[], from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (const b of bufs) {
    const end = pos + b.length;
    if (end > from && pos < to) out.push(b.subarray(Math.max(0, from - pos), Math.min(b.length, to - pos)));
    pos = end;
    if (pos >= to) break;
  }
  return out;
}
