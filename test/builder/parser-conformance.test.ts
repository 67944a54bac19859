import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DockerfileError } from '../../builder/frontend/errors.js';
import { dumpAst, parseDockerfile } from '../../builder/frontend/parser/index.js';
import { repoRoot } from '../helpers/paths.js';

const base = join(repoRoot(), 'fixtures', 'conformance', 'buildkit-parser');

function firstDifference(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}:\n  got:  ${al[i]}\n  want: ${bl[i]}`;
  }
  return 'identical lines (difference in line endings?)';
}

test('every positive BuildKit parser case dumps exactly to its result file', (t) => {
  const dir = join(base, 'testfiles');
  const cases = readdirSync(dir).sort();
  const failures: string[] = [];
  let instructions = 0;
  for (const c of cases) {
    const input = readFileSync(join(dir, c, 'Dockerfile'));
    const want = readFileSync(join(dir, c, 'result'), 'utf8');
    try {
      const ast = parseDockerfile(input, { file: `${c}/Dockerfile` });
      const got = dumpAst(ast);
      instructions += ast.children.length;
      if (got !== want) failures.push(`${c}: ${firstDifference(got, want)}`);
    } catch (e) {
      failures.push(`${c}: threw ${(e as Error).message}`);
    }
  }
  t.diagnostic(`positive cases: ${cases.length - failures.length}/${cases.length} passed, ${instructions} instructions`);
  assert.equal(cases.length, 33);
  assert.deepEqual(failures, []);
  assert.equal(instructions, 285);
});

test('every negative BuildKit parser case fails with a DockerfileError that has file:line', (t) => {
  const dir = join(base, 'testfiles-negative');
  const cases = readdirSync(dir).sort();
  for (const c of cases) {
    const file = `${c}/Dockerfile`;
    assert.throws(
      () => parseDockerfile(readFileSync(join(dir, c, 'Dockerfile')), { file }),
      (e: unknown) => {
        assert.ok(e instanceof DockerfileError, `${c}: not a DockerfileError: ${String(e)}`);
        assert.ok(e.location !== undefined && 'file' in e.location, `${c}: no file location`);
        assert.equal(e.location.file, file);
        assert.ok(Number.isInteger(e.location.line) && e.location.line >= 1, `${c}: bad line ${e.location.line}`);
        assert.ok(e.hint !== undefined && e.hint.length > 0, `${c}: no hint`);
        return true;
      },
      c,
    );
  }
  t.diagnostic(`negative cases: ${cases.length}/${cases.length} rejected`);
  assert.equal(cases.length, 4);
});

test('testfile-line: instructions carry BuildKit line ranges', () => {
  const ast = parseDockerfile(readFileSync(join(base, 'testfile-line', 'Dockerfile')));
  assert.deepEqual(
    ast.children.map((c) => [c.cmd, c.line, c.endLine]),
    [
      ['from', 5, 5],
      ['env', 11, 12],
      ['run', 17, 31],
    ],
  );
  assert.equal(ast.line, 5);
  assert.equal(ast.endLine, 31);
  assert.equal(ast.directives.escape, '\\');
});
