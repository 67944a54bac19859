// buildx's RUN settings in the OCI config: rlimits (nofile default unless given; -1 written as RLIM_INFINITY, which
// a JSON number cannot hold), the /dev/shm size, the cgroup path under a parent, and the primary gid among the
// supplementary groups.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ociConfig, type RunSpec } from '../../runtime-exec/index.js';
import { cgroupsPathFor, ociConfigText } from '../../runtime-exec/run-settings.js';

const base: RunSpec = {
  rootfs: { lower: ['/l'], upper: '/u', work: '/w' }, args: ['sh'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [10] },
  network: 'none', mounts: [],
};
const etc = { hosts: '/b/hosts', resolv: '/b/resolv.conf', hostname: '/b/hostname' };
type Cfg = { process: { rlimits: unknown[]; user: { additionalGids: number[] } }; mounts: { destination: string; options: string[] }[] };

test('ulimits replace the nofile default only for nofile; -1 is RLIM_INFINITY in the config text', () => {
  const plain = ociConfig(base, etc, '/x', { nofile: 4096 }) as unknown as Cfg;
  assert.deepEqual(plain.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 4096 }]);
  const c = ociConfig({ ...base, ulimits: [{ name: 'core', soft: -1, hard: -1 }, { name: 'nproc', soft: 10, hard: 20 }] }, etc, '/x', { nofile: 4096 });
  const text = ociConfigText(c);
  const parsed = JSON.parse(text.replaceAll('18446744073709551615', '"inf"')) as Cfg;
  assert.deepEqual(parsed.process.rlimits, [
    { type: 'RLIMIT_NOFILE', soft: 4096, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 'inf', hard: 'inf' }, { type: 'RLIMIT_NPROC', soft: 10, hard: 20 },
  ]);
  const own = ociConfig({ ...base, ulimits: [{ name: 'nofile', soft: 100, hard: 200 }] }, etc, '/x', { nofile: 4096 }) as unknown as Cfg;
  assert.deepEqual(own.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]);
});

test('shmSize sizes /dev/shm; the cgroup goes under a parent; the primary gid is a supplementary group', () => {
  const shm = (spec: RunSpec) => (ociConfig(spec, etc, '/x') as unknown as Cfg).mounts.find((m) => m.destination === '/dev/shm')!.options;
  assert.ok(shm(base).includes('size=65536k'));
  assert.ok(shm({ ...base, shmSize: 134217728 }).includes('size=134217728'));
  assert.equal(cgroupsPathFor('tsbuild-1-ab', undefined), '/tsbuild-1-ab');
  assert.equal(cgroupsPathFor('tsbuild-1-ab', '/builds/ci/'), '/builds/ci/tsbuild/tsbuild-1-ab');
  assert.deepEqual((ociConfig(base, etc, '/x') as unknown as Cfg).process.user.additionalGids, [0, 10]);
  assert.deepEqual((ociConfig({ ...base, user: { uid: 5, gid: 7, additionalGids: [3, 7] } }, etc, '/x') as unknown as Cfg).process.user.additionalGids, [3, 7]);
});
