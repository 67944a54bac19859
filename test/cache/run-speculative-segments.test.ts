import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, mountPoints, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { diffToLayer, hashStream, type Logger } from '../../layer-store/index.js';
import { randomBytesSeeded } from '../../bench/workloads.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

/** A logger that keeps the debug records of speculation (builder/execute/speculate.ts) and of the pack's reuse. */
function debugLog(): Logger & { seen: Map<string, Record<string, number>[]> } {
  const seen = new Map<string, Record<string, number>[]>();
  return {
    seen,
    debug: (msg, data) => { seen.set(msg, [...(seen.get(msg) ?? []), data as Record<string, number>]); },
    info: () => undefined,
    warn: () => undefined,
  };
}

// A RUN that writes big files has their gzip segments compressed while it runs (layer-store
// speculative-segments.ts); the pack copies them after checking them against the final bytes. The blob must be
// exactly the one a pack of the same tree without any reuse makes.
test('a RUN writing big files: segments compressed while it runs are reused, and the layer is the plain pack of its snapshot', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-specctx-'));
  let env: BuildEnv | undefined;
  t.after(async () => {
    await env?.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  await writeFile(join(ctx, 'seed.bin'), randomBytesSeeded(1536 * 1024, 11));
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'COPY seed.bin /seed.bin',
    // Six files of 1.5 MiB random + 2 MiB text, a pause after each (the walks see them finished).
    'RUN mkdir /data && for i in 0 1 2 3 4 5; do { cat /seed.bin; yes "row $i of the data" | head -c 2097152; } > /data/c$i; sleep 0.4; done',
    '',
  ].join('\n'));
  env = await makeBuildEnv(bb);
  const log = debugLog();
  const r = await env.build({ context: ctx, tags: ['spec:1'], logger: log });

  const spec = log.seen.get('speculative segments') ?? [];
  assert.equal(spec.length, 1, 'the RUN was speculated on');
  assert.ok(spec[0]!['segments']! >= 6, `segments speculated: ${JSON.stringify(spec)}`);
  const packed = log.seen.get('layer segments') ?? [];
  assert.equal(packed.length, 1, JSON.stringify([...log.seen.keys()]));
  assert.ok(packed[0]!['reused']! >= 6, `segments reused: ${JSON.stringify(packed)}`);

  // The layer's blob equals a pack of its snapshot (the RUN's upper dir, moved into place) without reuse.
  const img = await env.store.image('spec:1');
  const top = img.manifest.layers[img.manifest.layers.length - 1]!;
  const diffId = img.config.rootfs.diff_ids[img.config.rootfs.diff_ids.length - 1]!;
  const snapshot = await env.store.existingSnapshot(diffId);
  assert.ok(snapshot, 'the snapshot is installed');
  const plain = await diffToLayer(snapshot, { sink: async (s) => { const h = hashStream(); s.pipe(h).resume(); return h.result; } });
  assert.equal(plain.diffId, diffId);
  assert.equal(plain.digest, top.digest, 'speculation changed no byte of the blob');
  assert.equal(plain.size, top.size);
  assert.ok(r.imageDigest);

  // The scratch file went with the step's scratch dir; nothing is mounted.
  assert.deepEqual(await scratchLeft(env.root), []);
  assert.deepEqual(await mountPoints(env.root), []);
});
