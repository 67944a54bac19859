/**
 * What the fuzz runner and its targets share: the target names, the options and report shapes, the
 * PropertyFailure a target throws when a property breaks, and how an input is printed and saved as bytes.
 */
import type fc from 'fast-check';

export type FuzzTarget = 'parser' | 'reference' | 'tar' | 'names';
export const TARGETS: readonly FuzzTarget[] = ['parser', 'reference', 'tar', 'names'];

export interface FuzzOptions {
  /** Inputs to generate (default 100,000). */
  readonly runs?: number;
  /** fast-check seed (default: random, reported). */
  readonly seed?: number;
  /** Per-input time bound in ms; a slower input is a finding (default 1000). */
  readonly maxInputMs?: number;
  /** Watchdog: no finished input for this long kills the worker and reports a hang (default 15,000). */
  readonly hangMs?: number;
  /** Run in a worker thread with a watchdog and a heap cap (default true). */
  readonly isolate?: boolean;
  /** Print the input count to stderr every 30 s (the CLI sets it). */
  readonly progress?: boolean;
  /** Worker threads to split the runs over (worker i uses seed + i; default 1). */
  readonly jobs?: number;
  /** Where failing inputs are written (default bench/results/fuzz-findings next to this script's repo). */
  readonly findingsDir?: string;
}

export interface Finding {
  readonly kind: 'crash' | 'slow' | 'hang' | 'escape' | 'roundtrip' | 'memory';
  readonly message: string;
  /** Short printable form of the input (JSON string, or base64 for bytes). */
  readonly input: string;
  /** File holding the complete input, when written. */
  readonly file?: string;
}

export interface TargetReport {
  readonly target: FuzzTarget;
  readonly seed: number;
  /** Workers the runs were split over (seeds seed … seed + jobs - 1). */
  readonly jobs?: number;
  /** Inputs executed (including fast-check's shrinking attempts after a failure). */
  readonly inputs: number;
  readonly wallMs: number;
  readonly maxInputMs: number;
  readonly slowestInput: string;
  /** Peak RSS of the whole process (MiB) and peak V8 heap used by the fuzzing thread (MiB). */
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  /** Inputs over the time bound on first run that were re-run (and were under it the second time, else a finding). */
  readonly retimed?: number;
  /** Outcome counts: `ok` or the TsbuildError code. */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly findings: readonly Finding[];
}

/**
 * The view a worker and its watchdog share: the count of finished inputs, and the bytes (up to
 * HEARTBEAT_BYTES) of the input being processed, so a hang can be reported with its input.
 */
export interface Progress { counter: Int32Array; input: Uint8Array; inputLen: Int32Array }

export const MB = 1024 * 1024;
export const HEARTBEAT_BYTES = 4 * MB;

/** Returns the Progress view of a SharedArrayBuffer of 8 + HEARTBEAT_BYTES bytes. */
export function progressView(shared: SharedArrayBuffer): Progress {
  return { counter: new Int32Array(shared, 0, 1), inputLen: new Int32Array(shared, 4, 1), input: new Uint8Array(shared, 8) };
}

/** The value type an arbitrary generates. */
export type ArbValue<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** A failed property with its kind (the message reaches fast-check's report; the kind ours). */
export class PropertyFailure extends Error {
  constructor(readonly kind: Finding['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PropertyFailure';
  }
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 7).join('\n')}`;
  return String(e);
}

/** Returns a printable form of an input, at most `max` characters (or bytes, as base64) of it. */
export function show(input: unknown, max = 400): string {
  if (typeof input === 'object' && input !== null && !ArrayBuffer.isView(input) && 'bytes' in input) return show((input as { bytes: unknown }).bytes, max);
  if (ArrayBuffer.isView(input)) {
    const b = toBytes(input);
    return `base64:${b.subarray(0, max).toString('base64')}${b.length > max ? `… (${b.length} bytes)` : ''}`;
  }
  const s = JSON.stringify(input) ?? String(input);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

/** The bytes of an input: a string (UTF-8), bytes, or a TarInput's archive. */
export function toBytes(input: unknown): Buffer {
  if (ArrayBuffer.isView(input)) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (typeof input === 'object' && input !== null && 'bytes' in input) return toBytes((input as { bytes: unknown }).bytes);
  return Buffer.from(JSON.stringify(input) ?? String(input), 'utf8');
}
