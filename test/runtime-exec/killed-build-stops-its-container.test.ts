/**
 * Nothing outlives a killed build: after `kill -9` of a `tsbuild build` whose RUN step is running, every process
 * of that step's container is gone within seconds, and runc has no state left for it, nor its bundle dir (the build's
 * helper shell, runtime-exec's ShellRunner, runs the step's exit script when its pipe to the build closes: it kills the
 * container and removes the bundle). Looks only at the container this test's build made.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { busyboxTar } from '../helpers/build-env.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { alive, containerExists, forceDelete, rootWithContext, type ContainerProbe, startBuild, tsbuild, waitForContainer, within } from './killed-build.js';

let bb: BusyboxRootfs & { tar: string };
before(async () => {
  bb = await busyboxTar();
});
after(() => bb.cleanup());

test('SIGKILL of tsbuild build stops the RUN step container within seconds', { timeout: 120_000 }, async (t) => {
  // Two processes in the step: the shell and a background sleep, both must die.
  const env = await rootWithContext(bb.tar, 'FROM busybox:latest\nRUN sleep 300 & sleep 301; true\n');
  const child = startBuild(env.root, env.ctx);
  let c: ContainerProbe | undefined;
  // One hook, in this order (a test's after hooks run in the order they were added): the store is removed last,
  // after the fsck that would otherwise make it again.
  t.after(async () => {
    child.kill('SIGKILL');
    if (c) {
      forceDelete(c.id);
      tsbuild(['--root', env.root, 'fsck', '--repair']); // the scratch and overlay mount of the killed build
    }
    await env.cleanup();
  });
  c = await waitForContainer(child.pid!, 2);
  for (const p of c.pids) assert.ok(await alive(p), `container process ${p} runs before the kill`);

  child.kill('SIGKILL');
  const took = await within(5_000, async () => !(await Promise.all(c.pids.map(alive))).some(Boolean) && !(await containerExists(c.id)));
  const left = [];
  for (const p of c.pids) if (await alive(p)) left.push(p);
  assert.ok(took !== undefined, `5 s after the kill, container ${c.id} still has processes ${left.join(' ')} or runc state (exists: ${await containerExists(c.id)})`);
  // The bundle (outside the store: no later build or fsck would find it) is unmounted and removed too.
  const bundle = dirname(c.rootfs);
  assert.ok(await within(5_000, async () => !existsSync(bundle)) !== undefined, `5 s after the kill, the bundle ${bundle} is still there`);
});
