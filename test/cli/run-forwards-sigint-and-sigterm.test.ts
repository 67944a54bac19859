/**
 * `tsbuild run` forwards SIGINT and SIGTERM to the container's process, as docker run does: the process's trap runs
 * and its exit status is tsbuild's; afterwards the container (its --name) is gone from `runc list` and nothing of
 * the run is mounted under the test's root.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { busyboxTar, mountPoints, scratchLeft } from '../helpers/build-env.js';
import { TSBUILD_LAUNCHER } from '../helpers/cli.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { mountsUsing } from '../helpers/owned.js';
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

const SCRIPT = 'trap "echo got INT; exit 6" INT; trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done';

for (const [sig, code, said] of [['SIGTERM', 5, 'got TERM'], ['SIGINT', 6, 'got INT']] as const) {
  test(`${sig} reaches the process; its exit status is tsbuild's and the container is gone`, { timeout: 60_000 }, async () => {
    const name = `tsbuild-sig-test-${randomBytes(4).toString('hex')}`;
    const child = spawn(TSBUILD_LAUNCHER, ['--root', env.root, 'run', '--name', name, 'busybox', 'sh', '-c', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const exit = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    const t0 = Date.now();
    while (!out.includes('ready') && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /ready/, err);
    child.kill(sig);
    assert.equal(await exit, code, err);
    assert.equal(out, `ready\n${said}\n`);
    assert.equal(err, '');
    const list = spawnSync('runc', ['list', '-q'], { encoding: 'utf8' });
    assert.doesNotMatch(list.stdout, new RegExp(`^${name}$`, 'm'));
    assert.deepEqual(await mountPoints(env.root), []);
    assert.deepEqual(await mountsUsing(env.root), []);
    assert.deepEqual(await scratchLeft(env.root), [], 'the writable layer is removed');
  });
}
