/** stepKey is a pure function of the step's inputs: every input changes it; order, proxy args, ids and informational fields do not. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepKey, type StepInputs } from '../../cache/index.js';
import { digestOf, isDigest } from '../../layer-store/core/index.js';

const base: StepInputs = {
  v: 1,
  parent: digestOf('parent'),
  instruction: 'RUN make build',
  platform: 'linux/amd64',
  env: [
    ['PATH', '/usr/bin'],
    ['VERSION', '1.0'],
  ],
  mounts: [{ type: 'cache', target: '/root/.cache', id: 'go-build' }],
  sources: { digest: digestOf('sources') },
};

test('the key is a sha256 digest and the same inputs always give the same key', () => {
  const k = stepKey(base);
  assert.ok(isDigest(k));
  assert.equal(stepKey(structuredClone(base) as StepInputs), k);
  assert.equal(stepKey({ ...base, env: [...base.env].reverse() }), k, 'env order does not matter');
});

test('each input changes the key', () => {
  const k = stepKey(base);
  const variants: Record<string, StepInputs> = {
    parent: { ...base, parent: digestOf('other parent') },
    instruction: { ...base, instruction: 'RUN make test' },
    platform: { ...base, platform: 'linux/arm64' },
    'env value': { ...base, env: [['PATH', '/usr/bin'], ['VERSION', '1.1']] },
    'env added': { ...base, env: [...base.env, ['DEBUG', '1']] },
    'env removed': { ...base, env: [['PATH', '/usr/bin']] },
    'mount target': { ...base, mounts: [{ type: 'cache', target: '/other', id: 'go-build' }] },
    'mount type': { ...base, mounts: [{ type: 'tmpfs', target: '/root/.cache' }] },
    'bind mount source': { ...base, mounts: [{ type: 'bind', target: '/src', source: digestOf('a') }] },
    sources: { ...base, sources: { digest: digestOf('other sources') } },
    'no sources': { v: 1, parent: base.parent, instruction: base.instruction, platform: base.platform, env: base.env, mounts: base.mounts },
  };
  const seen = new Set([k]);
  for (const [name, v] of Object.entries(variants)) {
    const kv = stepKey(v);
    assert.notEqual(kv, k, `${name} must change the key`);
    seen.add(kv);
  }
  assert.equal(seen.size, Object.keys(variants).length + 1, 'all variants give distinct keys');
});

test('proxy build args, cache-mount ids, step ids, parent labels and per-file detail do not change the key', () => {
  const k = stepKey(base);
  const same: StepInputs[] = [
    { ...base, env: [...base.env, ['HTTP_PROXY', 'http://proxy:3128'], ['no_proxy', 'localhost'], ['https_proxy', 'x'], ['ALL_PROXY', 'y'], ['FTP_PROXY', 'z']] },
    { ...base, mounts: [{ type: 'cache', target: '/root/.cache', id: 'another-id' }] },
    { ...base, stepId: 'build/3', parentKind: 'step', parentName: 'golang:1.22' },
    { ...base, sources: { digest: digestOf('sources'), files: { 'a.txt': 'file|0644|0:0|1|ab' } } },
  ];
  for (const s of same) assert.equal(stepKey(s), k);
  assert.notEqual(stepKey({ ...base, mounts: [{ type: 'secret', target: '/run/secrets/x', id: 'other' }] }), stepKey({ ...base, mounts: [{ type: 'secret', target: '/run/secrets/x', id: 'npmrc' }] }), 'a secret id still counts');
});
