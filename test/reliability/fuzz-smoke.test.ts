// Runs the fuzz harness (test/fuzz/) briefly on every target so CI exercises it: the generators, the
// worker + watchdog, and the properties (only TsbuildErrors, per-input time bound, nothing written outside
// the tar target). The full run is `npm run fuzz` (100,000 inputs per target).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TARGETS } from '../fuzz/harness.js';
import { summarize } from '../fuzz/summary.js';
import { fuzzTarget } from '../fuzz/watchdog.js';

const RUNS: Readonly<Record<string, number>> = { parser: 2000, reference: 2000, tar: 1000, names: 300 }; // tar applies into a real directory: ~100 inputs/s here
const runsOf = (t: string): number => RUNS[t] ?? 2000;

for (const target of TARGETS) {
  test(`fuzz smoke: ${runsOf(target)} ${target} inputs, no finding`, { timeout: 180_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsb-fuzz-smoke-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const r = await fuzzTarget(target, { runs: runsOf(target), seed: 424242, findingsDir: dir, jobs: target === 'tar' ? 2 : 1 });
    const md = summarize([r], `fuzz smoke ${target}`);
    assert.deepEqual(r.findings, [], md);
    assert.equal(r.inputs, runsOf(target));
    assert.ok(r.maxInputMs < 1000, md);
    // the generators reach past the first check: some inputs are accepted, and several error kinds occur
    assert.ok((r.outcomes['ok'] ?? 0) > 0, md);
    assert.ok(Object.keys(r.outcomes).length >= (target === 'reference' ? 2 : target === 'names' ? 1 : 3), md); // names: every input must round-trip
    if (target === 'tar') assert.ok(Object.keys(r.outcomes).some((k) => k.startsWith('UNSAFE_LAYER_ENTRY')), md);
  });
}
