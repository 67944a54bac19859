import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const BIN = join(repoRoot(), 'bin', 'tsbuild.js');

function tsbuild(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TSBUILD_ROOT: join(cwd, 'root') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('tsbuild parse --json prints the documented shape', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Dockerfile'), [
    '# syntax=docker/dockerfile:1',
    'FROM busybox AS base',
    'COPY --from=base --chmod=644 a \\',
    '  /b/',
    'RUN <<EOF',
    'echo hi',
    'EOF',
    'ONBUILD RUN ["echo", "x"]',
    'CMD ["sh"]',
    '',
  ].join('\n'));
  const r = tsbuild(['parse', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.equal(out.length, 5);
  assert.deepEqual(out[0], { cmd: 'from', line: 2, endLine: 2, flags: [], args: ['busybox', 'AS', 'base'], json: false, heredocs: [] });
  assert.deepEqual(out[1], { cmd: 'copy', line: 3, endLine: 4, flags: ['--from=base', '--chmod=644'], args: ['a', '/b/'], json: false, heredocs: [] });
  assert.deepEqual(out[2]!.heredocs, [{ name: 'EOF', content: 'echo hi\n', expand: true, chomp: false }]);
  assert.equal(out[2]!.endLine, 7);
  assert.deepEqual((out[3]!.next as Record<string, unknown>).args, ['echo', 'x']);
  assert.equal((out[3]!.next as Record<string, unknown>).json, true);
  assert.equal(out[4]!.json, true);
});

test('tsbuild parse without --json prints the BuildKit dump', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY --user=me foo /tmp/\n');
  const r = tsbuild(['parse'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '(from "busybox")\n(copy ["--user=me"] "foo" "/tmp/")\n');
});

const BAD: [string, string | Buffer, RegExp][] = [
  ['unknown instruction, with a suggestion', 'FROM busybox\nRUNN echo\n', /Dockerfile:2.*RUN/],
  ['unterminated heredoc', 'FROM busybox\nRUN <<EOF\necho\n', /Dockerfile:2/],
  ['flag on the wrong instruction', 'FROM busybox\nENV --from=x a=b\n', /Dockerfile:2/],
  ['bad ENV name', 'FROM busybox\nENV =x\n', /Dockerfile:2/],
  ['non-UTF-8 bytes', Buffer.concat([Buffer.from('FROM busybox\nRUN echo '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]), /Dockerfile:2/],
  ['no instructions', '# only a comment\n', /Dockerfile:1/],
];

for (const [name, content, where] of BAD) {
  test(`tsbuild parse rejects ${name} with one line naming file:line`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsb-parse-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'Dockerfile'), content);
    const args = name.startsWith('flag') || name.startsWith('bad ENV') || name.startsWith('unknown') ? ['build', '.'] : ['parse'];
    const r = tsbuild(args, dir);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, /^error: /);
    assert.match(lines[0]!, where);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
  });
}

test('a missing Dockerfile is one clear error line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = tsbuild(['parse', '-f', 'nope/Dockerfile'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: cannot read Dockerfile nope\/Dockerfile: ENOENT \(nope\/Dockerfile\): pass the Dockerfile/);
});

test('--version, --help and usage errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const v = tsbuild(['--version'], dir);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = tsbuild(['--help'], dir);
  assert.equal(h.code, 0);
  for (const word of ['build', 'parse', 'run', '--root', '--progress', '--debug']) assert.ok(h.stdout.includes(word), word);
  const u = tsbuild(['parse', '--no-such-flag'], dir);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /^error: unknown flag: --no-such-flag: See 'tsbuild parse --help'\.\n$/);
});
