import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CAPABILITIES, hostsText, ociConfig, resolvText, type RunSpec } from '../../runtime-exec/index.js';

const base: RunSpec = {
  rootfs: { lower: ['/l'], upper: '/u', work: '/w' }, args: ['sh'], env: ['A=1'], cwd: '/', user: { uid: 0, gid: 0 },
  network: 'none', mounts: [],
};
const etc = { hosts: '/b/hosts', resolv: '/b/resolv.conf', hostname: '/b/hostname' };
type Cfg = { process: { capabilities: Record<string, string[]>; noNewPrivileges: boolean }; linux: { namespaces: { type: string }[]; resources?: Record<string, unknown> }; mounts: { destination: string; options: string[] }[] };

test('ociConfig maps network modes, limits, capabilities and mounts into the runtime spec', () => {
  const none = ociConfig(base, etc, '/x') as unknown as Cfg;
  assert.deepEqual(none.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  for (const mode of ['host', 'default'] as const) {
    const c = ociConfig({ ...base, network: mode }, etc, '/x') as unknown as Cfg;
    assert.ok(!c.linux.namespaces.some((n) => n.type === 'network'), `${mode} shares the host network`);
  }
  assert.equal(none.linux.resources, undefined);
  assert.equal(none.process.noNewPrivileges, true);
  assert.deepEqual(none.process.capabilities['effective'], [...DEFAULT_CAPABILITIES]);
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  const user = ociConfig({ ...base, user: { uid: 1000, gid: 1000 } }, etc, '/x') as unknown as Cfg;
  assert.deepEqual(user.process.capabilities['effective'], []);
  assert.deepEqual(user.process.capabilities['bounding'], [...DEFAULT_CAPABILITIES]);
  const lim = ociConfig({ ...base, limits: { memoryBytes: 1 << 20, cpus: 1.5, pidsLimit: 7 } }, etc, '/x') as unknown as Cfg;
  assert.deepEqual(lim.linux.resources, { memory: { limit: 1 << 20, swap: 1 << 20 }, cpu: { quota: 150000, period: 100000 }, pids: { limit: 7 } });
  const m = ociConfig({ ...base, mounts: [{ type: 'bind', source: '/s', target: '/t', readonly: true }, { type: 'tmpfs', target: '/tmp', size: 1024 }] }, etc, '/x') as unknown as Cfg;
  assert.deepEqual(m.mounts.find((x) => x.destination === '/t')?.options, ['rbind', 'ro']);
  assert.ok(m.mounts.find((x) => x.destination === '/tmp')?.options.includes('size=1024'));
  assert.ok(m.mounts.find((x) => x.destination === '/etc/hosts')?.options.includes('ro'));
  assert.ok(m.mounts.find((x) => x.destination === '/sys')?.options.includes('ro'));
});

test('hosts and resolv.conf texts', () => {
  assert.equal(hostsText('h', [{ host: 'a', ip: '1.2.3.4' }]), '127.0.0.1\tlocalhost h\n::1\tlocalhost ip6-localhost ip6-loopback\n1.2.3.4\ta\n');
  assert.equal(resolvText('nameserver 127.0.0.53\nsearch x\n', true), 'search x\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvText('nameserver 127.0.0.53\n', false), 'nameserver 127.0.0.53\n');
  assert.equal(resolvText('', false), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
});
