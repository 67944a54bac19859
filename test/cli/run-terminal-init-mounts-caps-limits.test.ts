/**
 * `tsbuild run` as docker run for an interactive check of an image: `-t` gives the process a real pseudo-terminal
 * that follows the user's terminal size, Ctrl-C typed into it reaches the process as docker's does; `--init` runs
 * tini as pid 1; `--mount` binds (read-only too) and makes a tmpfs with its size and mode; `--cap-add/--cap-drop`
 * change the capability set as moby computes it; `--memory` and `--pids-limit` are enforced. Bad values are one
 * usage error each. Against real runc, a real pty (test/helpers/pty-run.py) and the busybox test image.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { onlyErrorLine, runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { rootWithContext } from '../runtime-exec/killed-build.js';

let bb: BusyboxRootfs & { tar: string };
let env: Awaited<ReturnType<typeof rootWithContext>>;
before(async () => {
  bb = await busyboxTar();
  env = await rootWithContext(bb.tar, 'FROM busybox:latest\n');
});
after(async () => {
  await env.cleanup();
  await bb.cleanup();
});

const run = (...args: string[]) => runCli(['--root', env.root, 'run', ...args]);

/** Runs `tsbuild run ARGS` on a fresh pty of ROWS×COLS; `steps` are pty-run.py's `--when TEXT --resize|--send …`. */
function onPty(rows: number, cols: number, steps: string[], args: string[]): { code: number | null; out: string } {
  const r = spawnSync('python3', [join(repoRoot(), 'test', 'helpers', 'pty-run.py'), String(rows), String(cols), ...steps, '--', TSBUILD_LAUNCHER, '--root', env.root, 'run', ...args], { encoding: 'utf8', timeout: 90_000 });
  return { code: r.status, out: r.stdout };
}

test('-t: the process has a terminal of the user\'s size, and follows a resize', { timeout: 90_000 }, async () => {
  const first = onPty(30, 100, [], ['-t', 'busybox', 'sh', '-c', 'tty; stty size; [ -t 0 ] && [ -t 1 ] && echo both-tty']);
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /^\/dev\/pts\/\d+\r\n30 100\r\nboth-tty\r\n$/, 'a pty (CRLF output), sized as ours');
  // The container waits (up to 10 s) for its size to change after printing READY; the harness resizes on READY.
  const wait = 'echo READY; i=0; while [ "$(stty size)" = "30 100" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; stty size';
  const resized = onPty(30, 100, ['--when', 'READY', '--resize', '40', '120'], ['-t', 'busybox', 'sh', '-c', wait]);
  assert.equal(resized.code, 0, resized.out);
  assert.match(resized.out, /READY\r\n40 120\r\n$/);
  assert.deepEqual(await mountPoints(env.root), []);
});

test('-it: typed input reaches the process, Ctrl-C is its SIGINT, and the exit status is the process\'s', { timeout: 90_000 }, () => {
  const typed = onPty(24, 80, ['--when', 'READY', '--send', 'hello\\n'], ['-it', 'busybox', 'sh', '-c', 'echo READY; read x; echo "got $x"; exit 5']);
  assert.equal(typed.code, 5, typed.out);
  assert.match(typed.out, /got hello\r\n$/);
  const intr = onPty(24, 80, ['--when', 'READY', '--send', '\\x03'], ['-it', 'busybox', 'sh', '-c', 'trap "echo INT; exit 9" INT; echo READY; sleep 30 & wait']);
  assert.equal(intr.code, 9, intr.out);
  assert.match(intr.out, /INT\r\n$/);
});

test('--init runs tini as pid 1, which reaps an orphaned zombie that pid 1 would leave, and passes the exit status on', { timeout: 60_000 }, () => {
  // The orphaned sleep goes to pid 1; without --init that is xargs (exec'd by sh), which waits only for its own
  // child, so the sleep stays a zombie; with --init tini is pid 1 and reaps it.
  const zombies = 'sh -c \'(sleep 0.1 &) ; exec xargs sh -c "sleep 1; ps -o stat,comm | grep -c ^Z; true" </dev/null\'';
  const withInit = run('--init', 'busybox', 'sh', '-c', `tr "\\0" " " < /proc/1/cmdline; echo; ${zombies}`);
  assert.equal(withInit.code, 0, withInit.stderr);
  const [cmdline, count] = withInit.stdout.trim().split('\n');
  assert.match(cmdline!, /^\/sbin\/docker-init -- sh -c /);
  assert.equal(count, '0', 'tini reaped the orphan');
  const without = run('busybox', 'sh', '-c', zombies);
  assert.equal(without.stdout.trim(), '1', 'control: without --init the orphan stays a zombie');
  const status = run('--init', 'busybox', 'sh', '-c', 'exit 4');
  assert.equal(status.code, 4, status.stderr);
});

test('--mount binds (read-only too) and makes a tmpfs with its size and mode; -v and --mount combine', { timeout: 60_000 }, async () => {
  const dir = join(env.ctx, 'mnt');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'f'), 'from host\n');
  const r = run('--mount', `type=bind,source=${dir},target=/ro,readonly`, '--mount', `type=bind,src=${dir},dst=/rw`, '-v', `${dir}:/v`,
    '--mount', 'type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770', 'busybox',
    'sh', '-c', 'cat /ro/f; touch /ro/x 2>/dev/null || echo ro-refused; echo w > /rw/written; cat /v/written; stat -c %a /t; df -k /t | tail -1 | awk "{print \\$2}"');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'from host\nro-refused\nw\n1770\n1024\n');
  assert.deepEqual(await mountPoints(env.root), []);
});

test('-v creates a missing host directory (0755, owned by the caller) as dockerd does; --mount refuses it with docker\'s error', { timeout: 60_000 }, async () => {
  const dir = join(env.ctx, 'made-by-v', 'deeper');
  assert.equal(existsSync(dir), false);
  const r = run('-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'echo in > /data/f && ls /data');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'f\n');
  const st = statSync(dir);
  assert.ok(st.isDirectory());
  assert.equal(st.mode & 0o7777, 0o755 & ~process.umask());
  assert.equal(st.uid, process.getuid!());
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'in\n');
  const missing = join(env.ctx, 'not-made-by-mount');
  const m = run('--mount', `type=bind,source=${missing},target=/data`, 'busybox', 'true');
  assert.equal(m.code, 2);
  assert.match(onlyErrorLine(m), new RegExp(`^error: invalid mount config for type "bind": bind source path does not exist: ${missing}: `));
  assert.equal(existsSync(missing), false, '--mount created nothing');
  assert.deepEqual(await mountPoints(env.root), []);
});

test('--cap-drop ALL --cap-add CHOWN leaves exactly CAP_CHOWN; --cap-add sys_admin adds it; --cap-drop NET_RAW removes it', { timeout: 60_000 }, () => {
  const eff = (...a: string[]) => {
    const r = run(...a, 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status');
    assert.equal(r.code, 0, r.stderr);
    return BigInt(`0x${r.stdout.trim().split(/\s+/)[1]}`);
  };
  const base = eff();
  assert.equal(eff('--cap-drop', 'ALL', '--cap-add', 'chown'), 1n, 'CAP_CHOWN is bit 0');
  assert.equal(eff('--cap-add', 'sys_admin'), base | (1n << 21n));
  assert.equal(eff('--cap-drop', 'CAP_NET_RAW'), base & ~(1n << 13n));
  assert.notEqual(base & (1n << 13n), 0n, 'NET_RAW is a default capability');
});

test('--pids-limit stops a fork loop and --memory OOM-kills an allocation above it', { timeout: 60_000 }, () => {
  const pids = run('--pids-limit', '5', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait');
  assert.match(pids.stderr, /can't fork|Resource temporarily unavailable/i);
  const mem = run('--memory', '16m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/dev/null bs=40M count=1 2>/dev/null; echo rc=$?');
  assert.equal(mem.code, 0, mem.stderr);
  assert.equal(mem.stdout, 'rc=137\n');
  const free = run('--memory', '64m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/dev/null bs=40M count=1 2>/dev/null; echo rc=$?');
  assert.equal(free.stdout, 'rc=0\n');
});

test('bad --mount, --cap-add, --memory, --cpus and --init values are one error line each', { timeout: 60_000 }, () => {
  const cases = [
    [['--mount', 'type=volume,target=/x'], 2, /named volumes \(type=volume, the default type\) need a daemon/],
    [['--mount', 'target=/x'], 2, /invalid --mount "target=\/x": named volumes/],
    [['--mount', 'type=bind,source=/nonexistent-tsbuild-dir,target=/x'], 2, /^error: invalid mount config for type "bind": bind source path does not exist: \/nonexistent-tsbuild-dir: create \/nonexistent-tsbuild-dir first.*-v \/nonexistent-tsbuild-dir:\/x does/],
    [['-v', 'tsbuild-named-volume:/x'], 2, /tsbuild-named-volume is a named volume to docker, and named volumes need a daemon/],
    [['--mount', 'type=bind,source=/tmp,target=/x,bind-propagation=shared'], 2, /field bind-propagation is not supported for a bind mount/],
    [['--mount', 'type=tmpfs,target=rel'], 2, /target "rel" is not absolute/],
    [['--cap-add', 'bogus'], 1, /unknown capability: "bogus"/],
    [['--memory', 'lots'], 2, /invalid size "lots"/],
    [['--cpus', '0'], 2, /invalid --cpus 0/],
    [['-t', '--runtime', 'chroot'], 2, /-t needs a terminal/],
  ] as const;
  for (const [args, code, want] of cases) {
    const r = run(...args, 'busybox', 'true');
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), want);
  }
});
