import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import type { Logger } from '../../layer-store/index.js';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

/** A logger that keeps the `layer segments` debug records (how much of a layer's gzip was reused). */
function segmentLog(): Logger & { seen: { reused: number; compressed: number }[] } {
  const seen: { reused: number; compressed: number }[] = [];
  return {
    seen,
    debug: (msg, data) => { if (msg === 'layer segments') seen.push(data as { reused: number; compressed: number }); },
    info: () => undefined,
    warn: () => undefined,
  };
}

// An edit rebuild copies the compressed bytes of the unchanged parts of a COPY's layer from the previous build's
// blob (layer-store/layer/gzip-segments.ts). What it writes must be exactly what a cold build of the edited
// context writes, in another store: same layer digest, same image digest.
test('an edit rebuild links unchanged files from the previous snapshot and reuses its gzip segments; the image equals a cold build\'s', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-segctx-'));
  const envs: BuildEnv[] = [];
  t.after(async () => {
    for (const e of envs) await e.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  for (let i = 0; i < 1500; i++) {
    const dir = join(ctx, 'files', `d${i % 30}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.txt`), i % 5 === 0 ? randomBytesSeeded(3000 + (i % 7) * 900, i) : textSeeded(4000 + (i % 11) * 700, i));
  }
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY files/ /app/files/\n');
  const epoch = 1_700_000_000;
  const a = await makeBuildEnv(bb);
  envs.push(a);
  const first = await a.build({ context: ctx, tags: ['seg:1'], sourceDateEpoch: epoch });
  await appendFile(join(ctx, 'files', 'd7', 'f7.txt'), 'one more line\n');

  const log = segmentLog();
  const warm = await a.build({ context: ctx, tags: ['seg:2'], sourceDateEpoch: epoch, logger: log });
  assert.notEqual(warm.imageDigest, first.imageDigest, 'the edit changed the image');
  assert.equal(log.seen.length, 1, JSON.stringify(log.seen));
  const { reused, compressed } = log.seen[0]!;
  assert.ok(reused >= 10, `most segments reused (${reused} reused, ${compressed} compressed)`);
  assert.ok(compressed >= 1 && compressed <= 2, `only the edited part compressed (${compressed})`);

  // The unchanged files were hard-linked from the previous layer's snapshot, not copied again (builder copy.ts
  // linkTree); the edited one is a fresh file.
  const diffIds = warm.config.rootfs.diff_ids;
  const snap = join(a.root, 'snapshots', diffIds[diffIds.length - 1]!.slice('sha256:'.length), 'app', 'files');
  assert.equal((await stat(join(snap, 'd7', 'f7.txt'))).nlink, 1, 'the edited file is a new file');
  let linked = 0;
  for (const d of await readdir(snap)) for (const f of await readdir(join(snap, d))) if ((await stat(join(snap, d, f))).nlink === 2) linked++;
  assert.equal(linked, 1499, 'every unchanged file is shared with the previous snapshot');

  const b = await makeBuildEnv(bb);
  envs.push(b);
  const cold = await b.build({ context: ctx, tags: ['seg:cold'], sourceDateEpoch: epoch });
  assert.equal(warm.imageDigest, cold.imageDigest, 'reuse writes the same bytes as a cold build');
});
