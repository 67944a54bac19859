/**
 * Runs one fuzz target in the current thread: fast-check generates the inputs, and every input is timed,
 * classified (ok, or the TsbuildError code it was rejected with) and checked against the properties: it
 * throws nothing but a TsbuildError, it finishes within the time bound, and the target's own properties hold.
 *
 * This module is also the worker entry: loaded in a worker thread started by watchdog.ts (workerData
 * carries the target, the options and the shared Progress buffer), it fuzzes and posts the TargetReport.
 */
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { TsbuildError } from '../../layer-store/index.js';
import { writeFinding } from './findings.js';
import { describeError, MB, progressView, PropertyFailure, show, toBytes, type Finding, type FuzzOptions, type FuzzTarget, type Progress, type TargetReport } from './harness.js';
import { namesInput, namesSandbox, runNames } from './targets/names.js';
import { parserInput, runParser } from './targets/parser.js';
import { referenceInput, runReference } from './targets/reference.js';
import { makeSandbox, runTar, snapshotOutside, tarInput } from './targets/tar.js';

/** Copies the input about to run into the shared buffer, so the watchdog can report it if it hangs. */
function recordInput(p: Progress | undefined, input: unknown): void {
  if (p === undefined) return;
  const b = toBytes(input);
  const n = Math.min(b.length, p.input.length);
  b.copy(p.input, 0, 0, n);
  Atomics.store(p.inputLen, 0, n);
}

/** The outcome bucket of a rejected input: the error code, refined by the unsafe-entry reason or the message's first words. */
function outcomeKey(e: TsbuildError): string {
  const reason = (e as TsbuildError & { reason?: unknown }).reason;
  if (typeof reason === 'string') return `${e.code}:${reason}`;
  if (e.code === 'IO') return `${e.code}:${e.name}:${e.message.slice(0, 40)}`;
  if (e.code === 'INVALID_LAYER') {
    const m = e.message.replace(/^invalid layer: /, '').replace(/"[^"]*"/g, '…').replace(/[0-9]+/g, 'N').split(/[ :(]/).slice(0, 4).join(' ');
    return `${e.code}:${m}`;
  }
  return e.code;
}

/** Runs one target in this thread; `progress` (a shared buffer) lets a watchdog see each input. */
export async function fuzzInProcess(target: FuzzTarget, o: FuzzOptions = {}, progress?: Progress): Promise<TargetReport> {
  const runs = o.runs ?? 100_000;
  const seed = o.seed ?? (Date.now() % 2 ** 31);
  const maxInputMs = o.maxInputMs ?? 1000;
  const outcomes: Record<string, number> = {};
  let inputs = 0;
  let slowest = 0;
  let slowestInput = '';
  let peakHeap = 0;
  let peakRss = 0;
  let retimed = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  };
  /** Wraps one execution: timing, outcome classification, and the "only TsbuildError" property. */
  const check = async (input: unknown, f: () => unknown): Promise<void> => {
    recordInput(progress, input);
    const t0 = performance.now();
    let outcome = 'ok';
    let failure: PropertyFailure | undefined;
    try {
      await f();
    } catch (e) {
      if (e instanceof PropertyFailure) failure = e;
      else if (TsbuildError.is(e)) outcome = outcomeKey(e);
      else failure = new PropertyFailure('crash', `threw a non-TsbuildError: ${describeError(e)}`, { cause: e });
    }
    let ms = performance.now() - t0;
    if (ms > maxInputMs && failure === undefined) {
      // Confirm a slow input by running it again: a machine under load makes single timings noisy, while a
      // real hang or super-linear case is slow every time.
      retimed++;
      const t1 = performance.now();
      try { await f(); } catch { /* same outcome as the first run */ }
      ms = Math.min(ms, performance.now() - t1);
    }
    inputs++;
    if (progress) Atomics.add(progress.counter, 0, 1);
    if (inputs % 500 === 0) sample();
    if (ms > slowest) { slowest = ms; slowestInput = show(input, 200); }
    if (failure) throw failure;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (ms > maxInputMs) throw new PropertyFailure('slow', `took ${ms.toFixed(0)} ms (bound ${maxInputMs} ms)`);
  };

  const t0 = performance.now();
  sample();
  let result: fc.RunDetails<[unknown]>;
  let scratch: string | undefined; // the target's sandbox directory, removed at the end
  const params = { numRuns: runs, seed, endOnFailure: false, markInterruptAsFailure: true } as const;
  try {
    switch (target) {
      case 'parser':
        result = await fc.check(fc.asyncProperty(parserInput, (s) => check(s, () => runParser(s))), params) as fc.RunDetails<[unknown]>;
        break;
      case 'reference':
        result = await fc.check(fc.asyncProperty(referenceInput, (s) => check(s, () => runReference(s))), params) as fc.RunDetails<[unknown]>;
        break;
      case 'tar': {
        const box = makeSandbox();
        scratch = box.root;
        const before = snapshotOutside(box);
        result = await fc.check(fc.asyncProperty(tarInput(box.canary), (t) => check(t, () => runTar(box, before, t))), params) as fc.RunDetails<[unknown]>;
        break;
      }
      case 'names': {
        const dir = namesSandbox();
        scratch = dir;
        result = await fc.check(fc.asyncProperty(namesInput, (n) => check(n, () => runNames(dir, n))), params) as fc.RunDetails<[unknown]>;
        break;
      }
    }
  } finally {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
  sample();
  const findings: Finding[] = [];
  if (result.failed) {
    const ce = result.counterexample?.[0];
    const err = result.errorInstance;
    const kind = err instanceof PropertyFailure ? err.kind : 'crash';
    const message = err instanceof PropertyFailure
      ? `${err.message}${err.cause !== undefined && kind !== 'crash' ? `\ncause: ${describeError(err.cause)}` : ''}`
      : describeError(err ?? 'property failed');
    const file = ce !== undefined ? writeFinding(o, target, ce) : undefined;
    findings.push({ kind, message: `${message}\n(seed ${seed}, path ${result.counterexamplePath ?? '?'}, shrunk ${result.numShrinks} times)`,
      input: show(ce), ...(file !== undefined ? { file } : {}) });
  }
  return {
    target, seed, inputs, wallMs: performance.now() - t0, maxInputMs: slowest, slowestInput,
    peakRssMb: Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / MB, peakHeapMb: peakHeap / MB, outcomes, findings, retimed,
  };
}

if (!isMainThread && workerData && (workerData as { shared?: unknown }).shared instanceof SharedArrayBuffer) {
  const { target, o, shared } = workerData as { target: FuzzTarget; o: FuzzOptions; shared: SharedArrayBuffer };
  fuzzInProcess(target, o, progressView(shared)).then((r) => parentPort!.postMessage(r), (e: unknown) => { throw e; });
}
