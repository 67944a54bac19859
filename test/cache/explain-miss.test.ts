/** explainMiss names the first input that differs, for every kind of input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainMiss, type StepInputs } from '../../cache/index.js';
import { digestOf } from '../../layer-store/core/index.js';

const before: StepInputs = {
  v: 1,
  parent: digestOf('base-manifest'),
  parentKind: 'base',
  parentName: 'alpine:3.20',
  instruction: 'COPY src/ /app/',
  platform: 'linux/amd64',
  env: [['NODE_ENV', 'production'], ['VERSION', '1']],
  mounts: [{ type: 'bind', target: '/src', source: digestOf('ctx') }],
  sources: {
    digest: digestOf('s1'),
    files: { src: 'dir|0755|0:0|0|', 'src/a.ts': 'file|0644|0:0|3|aaa', 'src/b.ts': 'file|0644|0:0|3|bbb', 'src/link': 'symlink|0777|0:0|0|a.ts' },
  },
  stepId: 'build/1',
};

test('instruction text change, with before and now', () => {
  const r = explainMiss({ ...before, instruction: 'COPY src/ /srv/' }, before);
  assert.deepEqual(r, { kind: 'instruction', detail: 'the instruction changed', before: 'COPY src/ /app/', now: 'COPY src/ /srv/' });
});

test('build arg / ENV changed, added and removed, by name (values are not printed)', () => {
  const changed = explainMiss({ ...before, env: [['NODE_ENV', 'production'], ['VERSION', '2']] }, before);
  assert.equal(changed.kind, 'env');
  assert.equal(changed.kind === 'env' && changed.name, 'VERSION');
  assert.doesNotMatch(changed.detail, /2/);
  const added = explainMiss({ ...before, env: [['DEBUG', '1'], ...before.env] }, before);
  assert.equal(added.kind === 'env' && added.name, 'DEBUG');
  assert.match(added.detail, /now set/);
  const removed = explainMiss({ ...before, env: [['VERSION', '1']] }, before);
  assert.equal(removed.kind === 'env' && removed.name, 'NODE_ENV');
  assert.match(removed.detail, /no longer set/);
  assert.equal(explainMiss({ ...before, env: [...before.env, ['HTTP_PROXY', 'http://p']] }, before).kind, 'new-step', 'proxy args never explain a miss');
});

test('copied file changed, added, removed, mode and link target: names the path', () => {
  const files = before.sources!.files!;
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ ...files, 'src/b.ts': 'file|0644|0:0|4|bbb2' }, 'src/b.ts', /content changed/],
    [{ ...files, 'src/new.ts': 'file|0644|0:0|1|n' }, 'src/new.ts', /added/],
    [Object.fromEntries(Object.entries(files).filter(([k]) => k !== 'src/a.ts')), 'src/a.ts', /removed/],
    [{ ...files, 'src/a.ts': 'file|0755|0:0|3|aaa' }, 'src/a.ts', /mode changed: 0644 → 0755/],
    [{ ...files, 'src/link': 'symlink|0777|0:0|0|b.ts' }, 'src/link', /link target changed: a\.ts → b\.ts/],
  ];
  for (const [now, path, detail] of cases) {
    const r = explainMiss({ ...before, sources: { digest: digestOf(JSON.stringify(now)), files: now } }, before);
    assert.equal(r.kind, 'file');
    assert.equal(r.kind === 'file' && r.path, path);
    assert.match(r.detail, detail);
  }
  const noMap = explainMiss({ ...before, sources: { digest: digestOf('s2') } }, before);
  assert.equal(noMap.kind, 'file');
});

test('base image digest, platform, mounts and parent step', () => {
  const base = explainMiss({ ...before, parent: digestOf('new-base') }, before);
  assert.equal(base.kind, 'base');
  assert.match(base.detail, /alpine:3\.20/);
  assert.equal(explainMiss({ ...before, platform: 'linux/arm64' }, before).kind, 'platform');
  const mount = explainMiss({ ...before, mounts: [{ type: 'bind', target: '/src', source: digestOf('ctx2') }] }, before);
  assert.deepEqual(mount, { kind: 'mount', detail: 'mount at /src changed' });
  const parent = explainMiss({ ...before, parentKind: 'step', parent: digestOf('p2') }, { ...before, parentKind: 'step' });
  assert.equal(parent.kind, 'parent');
});

test('the step\'s own change is named before a parent change; identical inputs say the result is gone', () => {
  const both = explainMiss({ ...before, parentKind: 'step', parent: digestOf('p2'), instruction: 'COPY x /' }, { ...before, parentKind: 'step' });
  assert.equal(both.kind, 'instruction');
  assert.equal(explainMiss(before, before).kind, 'new-step');
});
