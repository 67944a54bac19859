/**
 * Reads the output files of a command that the helper shell runs (ShellRunner.runStreaming: its stdout and stderr
 * go to `<n>.out` and `<n>.err` in the shell's directory) while it runs, so that a RUN step's output still reaches
 * the progress display as it is written: what was added since the last read, every POLL_MS, and the rest once the
 * command has ended. Synchronous reads of a few bytes, on the main thread: cheaper than a thread-pool round trip.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** How often a running command's output files are read (ms): the most a line waits before it is shown. */
export const POLL_MS = 50;
const CHUNK = 64 * 1024;

export type OutputSink = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/** One output file being followed. */
class Followed {
  #fd: number | undefined;
  #pos = 0;
  readonly #path: string;
  readonly #stream: 'stdout' | 'stderr';

  constructor(path: string, stream: 'stdout' | 'stderr') {
    this.#path = path;
    this.#stream = stream;
  }

  /**
   * Hands what was written since the last call to `sink`; a file not made yet (the command not started) is skipped.
   * `scratch` is what each read goes into (a poll of a file with nothing new allocates nothing).
   */
  drain(sink: OutputSink, scratch: Buffer): void {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.#path, 'r');
      } catch {
        return;
      }
    }
    for (;;) {
      const n = readSync(this.#fd, scratch, 0, CHUNK, this.#pos);
      if (n <= 0) return;
      this.#pos += n;
      sink(this.#stream, Buffer.from(scratch.subarray(0, n))); // a copy: the sink may keep it
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** The stdout and stderr files of one running command, followed until close(). */
export class FollowedOutput {
  readonly #files: readonly Followed[];
  readonly #sink: OutputSink;
  readonly #scratch = Buffer.allocUnsafe(CHUNK);

  /** `base`: the files' path without `.out`/`.err`. */
  constructor(base: string, sink: OutputSink) {
    this.#files = [new Followed(`${base}.out`, 'stdout'), new Followed(`${base}.err`, 'stderr')];
    this.#sink = sink;
  }

  /** Reads what is new in both files (a sink that throws stops nothing: the error is the sink's). */
  poll(): void {
    for (const f of this.#files) f.drain(this.#sink, this.#scratch);
  }

  /** Reads the rest and closes both files (call once the command has ended, before its files are removed). */
  finish(): void {
    try {
      this.poll();
    } finally {
      for (const f of this.#files) f.close();
    }
  }

  /** Closes both files without reading (the shell died). */
  abandon(): void {
    for (const f of this.#files) f.close();
  }
}
