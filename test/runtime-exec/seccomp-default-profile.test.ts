/**
 * Every RUN step gets Docker's default seccomp profile (moby default.json): a filter is installed, and a syscall
 * the profile allows only with CAP_SYS_ADMIN (unshare, here creating a user namespace, which needs no capability
 * at all without the filter) fails with EPERM. `security: 'insecure'` lifts the filter and gives every capability.
 * The resolution itself follows moby's setupSeccomp: caps against the bounding set, the host's arch set, minKernel.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, loadDefaultSeccompProfile, resolveSeccomp, type LinuxSeccomp } from '../../runtime-exec/index.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

const PROBE = 'grep -E "^(Seccomp|CapEff):" /proc/self/status; unshare -U true && echo userns=ok || echo userns=denied';

test('a default RUN step has a seccomp filter and Docker-profile-blocked syscalls fail with EPERM', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', PROBE]));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^Seccomp:\s+2$/m, 'a filter is installed (mode 2)');
  assert.match(r.stdout, /userns=denied/);
  assert.match(r.stderr, /Operation not permitted/, 'the profile answers EPERM (errnoRet 1)');
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('security insecure runs without a seccomp filter and with every capability', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', PROBE], { security: 'insecure' }));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^Seccomp:\s+0$/m);
  assert.match(r.stdout, /userns=ok/);
  const eff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(r.stdout)?.[1] ?? '0'}`);
  assert.ok((eff >> 21n) & 1n, 'CAP_SYS_ADMIN is effective');
});

function names(s: LinuxSeccomp, action = 'SCMP_ACT_ALLOW'): Set<string> {
  return new Set(s.syscalls.filter((r) => r.action === action && !r.args).flatMap((r) => r.names));
}

test('the profile resolves caps, arches and kernel versions as moby does', () => {
  const p = loadDefaultSeccompProfile();
  const dflt = resolveSeccomp(p, { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernel: '6.1.0-18-amd64' });
  assert.equal(dflt.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(dflt.defaultErrnoRet, 1);
  assert.deepEqual(dflt.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const allowed = names(dflt);
  for (const n of ['read', 'chroot', 'arch_prctl', 'ptrace']) assert.ok(allowed.has(n), `${n} allowed`);
  for (const n of ['unshare', 'mount', 'keyctl', 'perf_event_open', 'bpf', 'reboot']) assert.ok(!allowed.has(n), `${n} not allowed`);
  // Without CAP_SYS_ADMIN: clone only without namespace flags (masked rule), clone3 answers ENOSYS.
  assert.ok(dflt.syscalls.some((r) => r.names.includes('clone') && r.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ'));
  assert.ok(dflt.syscalls.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO' && r.errnoRet === 38));

  const all = resolveSeccomp(p, { capabilities: ALL_CAPABILITIES, arch: 'amd64', kernel: '6.1.0' });
  assert.ok(names(all).has('unshare') && names(all).has('mount') && names(all).has('bpf'));
  assert.ok(!all.syscalls.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'), 'excludes caps drop the ENOSYS rule');

  const arm = resolveSeccomp(p, { capabilities: DEFAULT_CAPABILITIES, arch: 'arm64', kernel: '6.1' });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(!names(arm).has('arch_prctl') && names(arm).has('breakpoint'));

  const old = resolveSeccomp(p, { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernel: '4.4.0' });
  assert.ok(!names(old).has('ptrace'), 'ptrace needs kernel 4.8 without CAP_SYS_PTRACE');
});
