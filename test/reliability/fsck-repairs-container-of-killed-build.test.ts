/**
 * A container that outlives its build (the build and its helper shell, the tie of its RUN steps, both killed with
 * SIGKILL, so nothing ties the container to anything) is a leftover `tsbuild fsck` reports, with its rootfs mount, and that
 * `fsck --repair` kills, deletes and unmounts. Looks only at the container this test's build made.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { HELPER_SHELL_NAME } from '../../runtime-exec/index.js';
import { busyboxTar } from '../helpers/build-env.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import {
  alive, containerExists, forceDelete, helperShellOf, mounted, rootWithContext, type ContainerProbe, startBuild, tsbuild, waitForContainer, within,
} from '../runtime-exec/killed-build.js';

let bb: BusyboxRootfs & { tar: string };
before(async () => {
  bb = await busyboxTar();
});
after(() => bb.cleanup());

interface Finding { kind: string; subject: string; repaired?: string }

test('fsck reports the container of a killed build whose helper shell died too, and --repair removes it and its mount', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, 'FROM busybox:latest\nRUN sleep 300\n');
  const child = startBuild(env.root, env.ctx);
  let c: ContainerProbe | undefined;
  // One hook, in this order (a test's after hooks run in the order they were added): the store is removed last,
  // after the fsck that would otherwise make it again.
  t.after(async () => {
    child.kill('SIGKILL');
    if (c) {
      forceDelete(c.id);
      tsbuild(['--root', env.root, 'fsck', '--repair']);
    }
    await env.cleanup();
  });
  c = await waitForContainer(child.pid!, 1);
  const sh = await helperShellOf(child.pid!, HELPER_SHELL_NAME);
  assert.ok(sh !== undefined, `the build ${child.pid} has a helper shell, the tie of ${c.id}`);
  // Its directory (where a dead shell leaves it, for the next build's helper shell to sweep) is this test's to remove.
  const shDir = (await readFile(`/proc/${sh}/cmdline`, 'utf8')).split('\0')[4];
  t.after(() => { if (shDir) rmSync(shDir, { recursive: true, force: true }); });
  process.kill(-sh, 'SIGKILL'); // the helper shell and its commands, runc run among them (its own process group)
  child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(await alive(c.pids[0]!), 'with the helper shell gone too, the container outlives the build (the leftover under test)');

  const check = tsbuild(['--root', env.root, 'fsck', '--json']);
  assert.equal(check.code, 0, `leftovers alone leave the store consistent: ${check.stderr}`);
  const found = (JSON.parse(check.stdout) as { findings: Finding[] }).findings;
  assert.ok(found.some((f) => f.kind === 'leaked-container' && f.subject === c.id), `fsck reports ${c.id}: ${JSON.stringify(found)}`);
  assert.ok(found.some((f) => f.kind === 'leaked-mount' && f.subject === c.rootfs), `fsck reports its mount ${c.rootfs}: ${JSON.stringify(found)}`);
  assert.ok(await alive(c.pids[0]!), 'fsck without --repair changes nothing');

  const repair = tsbuild(['--root', env.root, 'fsck', '--repair', '--json']);
  assert.equal(repair.code, 0, repair.stderr);
  const repaired = (JSON.parse(repair.stdout) as { findings: Finding[] }).findings;
  assert.ok(repaired.some((f) => f.kind === 'leaked-container' && f.subject === c.id && f.repaired === 'killed and deleted'), JSON.stringify(repaired));
  assert.ok((await within(3_000, async () => !(await alive(c.pids[0]!)))) !== undefined, `the container's init ${c.pids[0]} is gone`);
  assert.equal(await containerExists(c.id), false, 'runc has no state left for it');
  assert.equal(await mounted(c.rootfs), false, 'its rootfs is unmounted');
  const again = (JSON.parse(tsbuild(['--root', env.root, 'fsck', '--json']).stdout) as { findings: Finding[] }).findings;
  assert.deepEqual(again.filter((f) => f.kind === 'leaked-container' || f.kind === 'leaked-mount'), [], 'a second fsck finds nothing left');
});
