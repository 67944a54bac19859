import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { check, of } from './helpers.js';

test('CopyAllBeforeInstall: the whole context copied before a dependency install, with the manifests to copy first', () => {
  const w = check('FROM node\nWORKDIR /app\nCOPY . .\nRUN npm ci\n').warnings.filter((x) => x.ruleName === 'CopyAllBeforeInstall');
  assert.equal(w.length, 1);
  assert.equal(w[0]!.location.line, 3);
  assert.match(w[0]!.detail, /package\.json package-lock\.json/);
  assert.match(w[0]!.fix!, /copy the dependency manifests first/);
  assert.deepEqual(of('CopyAllBeforeInstall', 'FROM node\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n'), []);
  assert.equal(of('CopyAllBeforeInstall', 'FROM python\nCOPY . /src\nRUN pip install -r /src/requirements.txt\n').length, 1);
});

test('EarlyCacheBust: a RUN with the date or randomness, or ADD of a URL without --checksum, before other steps', () => {
  assert.deepEqual(of('EarlyCacheBust', 'FROM busybox\nRUN date > /built\nCOPY . /app\nADD https://example.com/a.tgz /a\nRUN make\n').map((l) => l.split(':')[0]), [
    '2 EarlyCacheBust', '4 EarlyCacheBust',
  ]);
  assert.deepEqual(of('EarlyCacheBust', 'FROM busybox\nCOPY . /app\nRUN date > /built\n'), []);
  assert.deepEqual(of('EarlyCacheBust', 'FROM busybox\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.com/a /a\nRUN x\n'), []);
});

test('SecretInLayer: credential-shaped ARG/ENV values and copied key files (named, or found in the context)', () => {
  const src = 'FROM busybox\nENV AWS=AKIAABCDEFGHIJKLMNOP\nARG T=ghp_abcdefghijklmnopqrstuvwxyz0123456789\nCOPY id_rsa /root/.ssh/\nCOPY . /app\nENV NAME=hello\n';
  const w = check(src, { contextFiles: ['src/main.c', 'deploy/server.pem'] }).warnings.filter((x) => x.ruleName === 'SecretInLayer');
  assert.deepEqual(w.map((x) => x.location.line), [2, 3, 4, 5]);
  assert.match(w[3]!.detail, /deploy\/server\.pem/);
  assert.match(w[0]!.fix!, /--mount=type=secret/);
});

test('FinalStageRunsAsRoot is experimental (off by default); on, it flags a target stage without a non-root USER', () => {
  assert.deepEqual(of('FinalStageRunsAsRoot', 'FROM busybox\n'), []);
  const on = { options: 'experimental=FinalStageRunsAsRoot' };
  assert.equal(of('FinalStageRunsAsRoot', 'FROM busybox\nUSER app\nFROM busybox\n', on).length, 1);
  assert.deepEqual(of('FinalStageRunsAsRoot', 'FROM busybox AS a\nUSER 1000\nFROM a\n', on), []);
  const bases = new Map([['busybox', { env: [], shell: false, user: 'nobody' }]]);
  assert.deepEqual(of('FinalStageRunsAsRoot', 'FROM busybox\n', { ...on, bases }), []);
});

test("tsbuild's rules are skipped like BuildKit's", () => {
  assert.deepEqual(of('CopyAllBeforeInstall', '# check=skip=CopyAllBeforeInstall\nFROM node\nCOPY . .\nRUN npm ci\n'), []);
});
