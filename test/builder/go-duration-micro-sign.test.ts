// parseGoDuration reads Go's microsecond units: `us`, the micro sign `µs` (U+00B5) and the Greek mu `μs` (U+03BC),
// as time.ParseDuration does. flags.ts writes the two as \u escapes (a wide character outside a comment makes
// V8 hold the bundle chunk as a two-byte string: scripts/cjs-chunks.mjs); this pins that they still parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration } from '../../builder/frontend/instructions/index.js';

test('Go durations in microseconds: us, µs (micro sign) and μs (Greek mu)', () => {
  assert.equal(parseGoDuration('1500us'), 1_500_000);
  assert.equal(parseGoDuration('1500\u00b5s'), 1_500_000);
  assert.equal(parseGoDuration('1500\u03bcs'), 1_500_000);
  assert.equal(parseGoDuration('1m30\u03bcs'), 60e9 + 30_000);
  assert.equal(parseGoDuration('2\u00b5'), undefined);
  assert.equal(parseGoDuration('2xs'), undefined);
});
