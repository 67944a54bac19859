// Runs BuildKit's own shell-lexer corpus (envVarTest, wordsTest) against builder/frontend/shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processWord, processWords } from '../../builder/frontend/shell/index.js';
import { repoRoot } from '../helpers/paths.js';

const dir = join(repoRoot(), 'fixtures', 'conformance', 'buildkit-shell');

test('envVarTest: every Linux (A and U) case matches BuildKit', () => {
  const env = new Map([['PWD', '/home'], ['SHELL', 'bash'], ['KOREAN', '한국어'], ['NULL', '']]);
  const lines = readFileSync(join(dir, 'envVarTest'), 'utf8').split('\n');
  let ran = 0;
  const failures: string[] = [];
  lines.forEach((raw, i) => {
    if (raw.startsWith('#')) return;
    const line = raw.trim();
    if (line === '') return;
    const f = line.split('|');
    assert.equal(f.length, 3, `line ${i + 1} must have 3 fields`);
    const [platform, input, expected] = f.map((s) => s.trim()) as [string, string, string];
    assert.ok(['A', 'U', 'W'].includes(platform), `line ${i + 1}: bad platform ${platform}`);
    if (platform === 'W') return;
    ran++;
    let got: string;
    try {
      got = processWord(input, env);
    } catch (e) {
      if (expected !== 'error') failures.push(`line ${i + 1}: ${input} threw ${(e as Error).message}`);
      return;
    }
    if (expected === 'error') failures.push(`line ${i + 1}: ${input} → ${JSON.stringify(got)}, expected an error`);
    else if (got !== expected) failures.push(`line ${i + 1}: ${input} → ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  });
  assert.deepEqual(failures, []);
  assert.ok(ran > 200, `ran only ${ran} cases`);
  console.log(`envVarTest: ${ran} Linux cases passed`);
});

test('wordsTest: every case matches BuildKit', () => {
  const env = new Map<string, string>();
  const lines = readFileSync(join(dir, 'wordsTest'), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let ran = 0;
  const failures: string[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('#')) return;
    if (line.startsWith('ENV ')) {
      const kv = line.slice(3).replace(/^ +/, '');
      const eq = kv.indexOf('=');
      env.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? '' : kv.slice(eq + 1));
      return;
    }
    const f = line.split('|');
    assert.equal(f.length, 2, `line ${i + 1} must have exactly one |`);
    const input = f[0]!.trim();
    const expected = f[1]!.replace(/^ +/, '').split(',');
    ran++;
    let got: string[];
    try {
      got = processWords(input, env);
    } catch {
      got = ['error'];
    }
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      failures.push(`line ${i + 1}: ${input} → ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
  });
  assert.deepEqual(failures, []);
  assert.ok(ran > 15, `ran only ${ran} cases`);
  console.log(`wordsTest: ${ran} cases passed`);
});
