// Fuzz finding: ${X#pattern}, ${X%pattern} and ${X/pattern/r} were run as backtracking RegExps, so
// `*a*a*a…*c` against a long value took exponential time (BuildKit's Go regexp is linear). The
// matcher is now a Pike VM; this checks it is fast and gives the same answers as the RegExp did.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { expandWord } from '../../builder/frontend/index.js';

test('a pattern with many stars against a long value finishes in linear time', () => {
  const env = { X: 'a'.repeat(3000) };
  for (const op of ['#', '##', '%', '%%']) {
    const t0 = performance.now();
    assert.equal(expandWord(`\${X${op}${'*a'.repeat(30)}*c}`, env).value, env.X);
    assert.ok(performance.now() - t0 < 1000, `${op} took ${performance.now() - t0} ms`);
  }
  const t0 = performance.now();
  assert.equal(expandWord(`\${X//${'*a'.repeat(30)}*c/r}`, env).value, env.X);
  assert.equal(expandWord(`\${X/${'*a'.repeat(30)}*c/r}`, env).value, env.X);
  assert.ok(performance.now() - t0 < 1000);
});

/** The previous implementation (BuildKit's convertShellPatternToRegex), used as the reference on small inputs. */
function toRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const cps = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < cps.length; i++) {
    const tok = cps[i]!;
    if (tok === '*') out += greedy ? '[^\\n]*' : '[^\\n]*?';
    else if (tok === '?') out += '[^\\n]';
    else if (tok === '\\') { const nx = cps[i + 1]; if (nx === '}' || nx === '/') continue; out += '\\' + nx; i++; }
    else out += /[[\]{}.+()|^$]/.test(tok) ? '\\' + tok : tok;
  }
  return new RegExp(out, 'u');
}
const rev = (s: string): string => Array.from(s).reverse().join('');
function reference(op: string, pat: string, value: string): string {
  const greedy = op.length === 2;
  if (op[0] === '#') { const m = toRegex(pat, greedy, true).exec(value); return m === null ? value : value.slice(m[0].length); }
  if (op[0] === '%') { const m = toRegex(rev(pat), greedy, true).exec(rev(value)); return m === null ? value : rev(rev(value).slice(m[0].length)); }
  const re = toRegex(pat, true, false);
  if (op === '/') { const m = re.exec(value); return m === null ? value : value.slice(0, m.index) + 'R' + value.slice(m.index + m[0].length); }
  // '//': Go's ReplaceAllString (an empty match right after a match is skipped)
  const g = new RegExp(re.source, 'gu');
  let out = ''; let last = 0; let prevEnd = -1; let pos = 0;
  while (pos <= value.length) {
    g.lastIndex = pos;
    const m = g.exec(value);
    if (m === null) break;
    const end = m.index + m[0].length;
    if (!(m[0].length === 0 && m.index === prevEnd)) { out += value.slice(last, m.index) + 'R'; last = end; prevEnd = end; }
    pos = end > pos ? end : pos + 1;
  }
  return out + value.slice(last);
}

test('the linear matcher agrees with the RegExp semantics on small patterns and values', () => {
  const pat = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', '\n'), maxLength: 6 });
  const val = fc.string({ unit: fc.constantFrom('a', 'b', '\n', 'é'), maxLength: 8 });
  fc.assert(fc.property(fc.constantFrom('#', '##', '%', '%%', '/', '//'), pat, val, (op, p, v) => {
    if (op.startsWith('/') && p === '') return; // `${X//R}` would read as a different operator
    const word = op.startsWith('/') ? `\${X${op}${p}/R}` : `\${X${op}${p}}`;
    assert.equal(expandWord(word, { X: v }).value, reference(op, p, v), `${JSON.stringify(word)} on ${JSON.stringify(v)}`);
  }), { numRuns: 3000, seed: 7 });
});
