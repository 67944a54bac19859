// Fuzz finding: self-referencing ENV values (`ENV A=$A$A…` per line) and `${X//?/$X}` grew strings
// exponentially / quadratically until V8 threw "Invalid string length" (a RangeError, after using GBs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandWord, MAX_EXPANSION_LENGTH, parseDockerfile, resolveStageGraph, stageScope, toStages } from '../../builder/frontend/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

function scope(text: string): void {
  const { stages, metaArgs } = toStages(parseDockerfile(text));
  const g = resolveStageGraph(stages, metaArgs, { buildArgs: {} });
  for (const r of g.order) stageScope(r.stage, { metaScope: g.metaScope, buildArgs: {} });
}

test('ENV values that double on every line stop with an EXPANSION error at the size limit', () => {
  const text = `FROM a\nENV A=abcdefgh\n${'ENV A=$A$A$A$A$A$A$A$A\n'.repeat(20)}`;
  const t0 = performance.now();
  assert.throws(() => scope(text), (e: unknown) => TsbuildError.is(e) && e.code === 'EXPANSION' && /longer than/.test(e.message));
  assert.ok(performance.now() - t0 < 2000);
});

test('a replacement that multiplies the value is capped too', () => {
  const X = 'x'.repeat(20000);
  assert.throws(() => expandWord('${X//?/$X}', { X }), (e: unknown) => TsbuildError.is(e) && e.code === 'EXPANSION');
  assert.throws(() => expandWord('"${X}${X}"', { X: 'y'.repeat(MAX_EXPANSION_LENGTH) }), (e: unknown) => TsbuildError.is(e) && e.code === 'EXPANSION');
});

test('values under the limit are untouched', () => {
  const X = 'x'.repeat(100_000);
  assert.equal(expandWord('$X$X', { X }).value.length, 200_000);
  assert.deepEqual(expandWord('a $X b', { X: 'p q' }).words, ['a', 'p', 'q', 'b']);
});
