import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tsbuild from '../../cli/api.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

// The library alone (no CLI process): the build pipeline pushes to a real registry, a second, empty store
// pulls the image back, and copy puts it under another name; skopeo checks what the registry holds.
const run = promisify(execFile);
let reg: RegistryHandle;
let work: string;
before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-api-pipeline-'));
});
after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function skopeoDigest(ref: string): Promise<string> {
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
  return (JSON.parse(stdout) as { Digest: string }).Digest;
}

test('runBuildPipeline builds and pushes, pull fills an empty store with the same image, copy and push name it elsewhere', async () => {
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\nCMD ["/hello.txt"]\n');
  await writeFile(join(ctx, 'hello.txt'), 'hello from the library\n');
  const ref = `${reg.host}/lib/app:1`;
  const registry = new tsbuild.RegistryClient();
  try {
    const storeA = await tsbuild.LayerStore.open(join(work, 'rootA'));
    const events: tsbuild.BuildEvent[] = [];
    const r = await tsbuild.runBuildPipeline({
      context: ctx, tags: [ref], push: true, registry, store: storeA, runtime: await tsbuild.findRuntime(),
      cacheTo: [tsbuild.parseCacheSpec(`type=local,dest=${join(work, 'cache')}`, 'to')],
      events: (e) => events.push(e),
    });
    assert.deepEqual(r.tags, [ref]);
    assert.deepEqual(r.steps.map((s) => s.cached), [false]);
    assert.deepEqual(r.pushed.map((p) => [p.ref, p.digest]), [[ref, r.imageDigest]]);
    assert.equal(r.exportedCaches.length, 1);
    assert.equal(r.exportedCaches[0]!.target, join(work, 'cache'));
    assert.deepEqual(r.warnings, []);
    assert.ok(events.some((e) => e.type === 'info' && e.message === `pushed ${ref}: ${r.imageDigest}`), 'progress is events');
    assert.equal(await skopeoDigest(ref), r.imageDigest, 'the registry holds the manifest the pipeline built');

    // A second, empty store pulls it back: the same manifest, config and tag.
    const storeB = await tsbuild.LayerStore.open(join(work, 'rootB'));
    const p = await tsbuild.pull({ store: storeB, registry, ref });
    assert.equal(p.digest, r.imageDigest);
    assert.equal(p.ref, ref);
    // The name holds the pushed index (the image and buildx's default provenance: README, Attestations).
    assert.equal((await storeB.resolve(ref)).descriptor.digest, r.imageDigest);
    const img = await storeB.image(ref);
    assert.equal(img.configDescriptor.digest, r.configDigest);

    // copy streams it to another repository (mounting within the registry); push sends store B's copy to a third.
    const c = await tsbuild.copy({ registry, source: ref, destination: `${reg.host}/lib/copied:1` });
    assert.equal(c.digest, r.imageDigest);
    assert.equal(await skopeoDigest(`${reg.host}/lib/copied:1`), r.imageDigest);
    const u = await tsbuild.push({ store: storeB, registry, name: ref, destination: `${reg.host}/lib/pushed:1` });
    assert.equal(u.digest, r.imageDigest);
    assert.equal(await skopeoDigest(`${reg.host}/lib/pushed:1`), r.imageDigest);
  } finally {
    await registry.close();
  }
});

test('runBuildPipeline refuses a push it could not do before building anything', async (t) => {
  const store = await tsbuild.LayerStore.open(join(work, 'rootC'));
  const runtime = await tsbuild.findRuntime();
  const registry = new tsbuild.RegistryClient();
  t.after(() => registry.close());
  await assert.rejects(tsbuild.runBuildPipeline({ context: work, push: true, registry, store, runtime }),
    (e: unknown) => tsbuild.TsbuildError.is(e) && e.code === 'USAGE' && /push needs a name/.test(e.message));
  await assert.rejects(tsbuild.runBuildPipeline({ context: work, tags: [`${reg.host}/lib/x:1`], push: true, store, runtime }),
    (e: unknown) => tsbuild.TsbuildError.is(e) && e.code === 'USAGE' && /registry client/.test(e.message));
  assert.deepEqual(await store.listImages(), []);
});
