import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { RACY_MARGIN_MS, type Logger } from '../../layer-store/index.js';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

/** A logger that keeps the `layer segments` debug records (how much of a layer's gzip was reused). */
function segmentLog(): Logger & { seen: { reused: number; compressed: number; unread: number }[] } {
  const seen: { reused: number; compressed: number; unread: number }[] = [];
  return {
    seen,
    debug: (msg, data) => { if (msg === 'layer segments') seen.push(data as { reused: number; compressed: number; unread: number }); },
    info: () => undefined,
    warn: () => undefined,
  };
}

// An edit rebuild copies the compressed bytes of the unchanged parts of a COPY's layer from the previous build's
// blob (layer-store/layer/gzip-segments.ts). What it writes must be exactly what a cold build of the edited
// context writes, in another store: same layer digest, same image digest.
test('an edit rebuild adopts the previous snapshot and reuses its gzip segments unread; the image equals a cold build\'s', async (t) => {
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
  // A segment's fingerprint is recorded only when its files were read RACY_MARGIN_MS after their ctime (segment-files.ts),
  // which a cold COPY of a small tree may not give: so the layer whose segments are to be taken unread is made by a
  // rebuild that reads files the previous build wrote more than that margin earlier.
  await a.build({ context: ctx, tags: ['seg:0'], sourceDateEpoch: epoch });
  await sleep(RACY_MARGIN_MS + 50);
  await appendFile(join(ctx, 'files', 'd0', 'f0.txt'), 'a first edit\n');
  const first = await a.build({ context: ctx, tags: ['seg:1'], sourceDateEpoch: epoch });
  const firstIds0 = first.config.rootfs.diff_ids;
  const firstSnap = join(a.root, 'snapshots', firstIds0[firstIds0.length - 1]!.slice('sha256:'.length), 'app', 'files');
  const inodes = new Map<string, string>();
  const id = (st: { ino: number; ctimeMs: number }): string => `${st.ino}@${st.ctimeMs}`;
  for (const d of await readdir(firstSnap)) for (const f of await readdir(join(firstSnap, d))) inodes.set(`${d}/${f}`, id(await stat(join(firstSnap, d, f))));
  await appendFile(join(ctx, 'files', 'd7', 'f7.txt'), 'one more line\n');

  const log = segmentLog();
  const warm = await a.build({ context: ctx, tags: ['seg:2'], sourceDateEpoch: epoch, logger: log });
  assert.notEqual(warm.imageDigest, first.imageDigest, 'the edit changed the image');
  assert.equal(log.seen.length, 1, JSON.stringify(log.seen));
  const { reused, compressed } = log.seen[0]!;
  assert.ok(reused >= 10, `most segments reused (${reused} reused, ${compressed} compressed)`);
  assert.ok(compressed >= 1 && compressed <= 2, `only the edited part compressed (${compressed})`);

  // The previous layer's snapshot was taken and brought up to date (builder adopt-tree.ts): the unchanged files
  // are the very inodes of the first build's snapshot, the edited one is a new file, and the old snapshot is gone.
  const diffIds = warm.config.rootfs.diff_ids;
  const snap = join(a.root, 'snapshots', diffIds[diffIds.length - 1]!.slice('sha256:'.length), 'app', 'files');
  const firstIds = first.config.rootfs.diff_ids;
  await assert.rejects(stat(join(a.root, 'snapshots', firstIds[firstIds.length - 1]!.slice('sha256:'.length))), 'the previous snapshot was taken');
  assert.notEqual(id(await stat(join(snap, 'd7', 'f7.txt'))), inodes.get('d7/f7.txt'), 'the edited file is a new file');
  assert.match(await readFile(join(snap, 'd7', 'f7.txt'), 'utf8'), /one more line\n$/);
  let kept = 0;
  for (const d of await readdir(snap)) for (const f of await readdir(join(snap, d))) if (id(await stat(join(snap, d, f))) === inodes.get(`${d}/${f}`)) kept++;
  assert.equal(kept, 1499, 'every unchanged file is the previous snapshot\'s');
  assert.ok(log.seen[0]!.unread >= 10, `the unchanged segments were taken without reading their files (${log.seen[0]!.unread})`);

  const b = await makeBuildEnv(bb);
  envs.push(b);
  const cold = await b.build({ context: ctx, tags: ['seg:cold'], sourceDateEpoch: epoch });
  assert.equal(warm.imageDigest, cold.imageDigest, 'reuse writes the same bytes as a cold build');
});
