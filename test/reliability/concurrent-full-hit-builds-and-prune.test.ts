/**
 * Full-hit builds (every step a cache hit) beside looping `prune`, `prune --cache` and `prune -a` on one root,
 * with no tag pinning the layers (only the cache records and the builds' leases keep them). A cached step reads
 * its record once before its lease write, only to name the layer, leases key and layer in one write, then reads
 * the record again and checks the blob (builder/execute/cached-step.ts): a prune between the two reads makes the
 * step a miss, never an image that names a removed blob. Every build must succeed with a complete image, the
 * store must stay consistent, and each cached step must have taken one lease write.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerStore } from '../../layer-store/index.js';
import { runCliAsync, TSBUILD_LAUNCHER } from '../helpers/cli.js';

const STEPS = 4;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface StepEvent { type: string; id?: string }

test('full-hit builds beside looping prunes all succeed with complete images, one lease write per cached step', { timeout: 120_000 }, async () => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-full-hit-prune-'));
  dirs.push(base);
  const root = join(base, 'root');
  const ctx = join(base, 'ctx');
  await mkdir(ctx);
  const lines = ['FROM scratch'];
  for (let i = 0; i < STEPS; i++) {
    await writeFile(join(ctx, `f${i}.txt`), `file ${i}\n`);
    lines.push(`COPY f${i}.txt /f${i}.txt`);
  }
  await writeFile(join(ctx, 'Dockerfile'), `${lines.join('\n')}\n`);
  const build = (tag: string) => runCliAsync(['--root', root, '--progress', 'json', 'build', '-t', tag, ctx]);

  const seed = await build('seed:1');
  assert.equal(seed.code, 0, seed.stderr);
  // The second build leaves the steady state (a file changed within the last second is hashed again).
  assert.equal((await build('seed:1')).code, 0);

  // Each cached step takes one lease write (a lock cycle: one link(2) onto leases/.lock), the lease one more.
  const log = join(base, 'strace.txt');
  const traced = spawnSync('strace', ['-f', '-qq', '-e', 'trace=link', '-o', log, TSBUILD_LAUNCHER, '--root', root, '--progress', 'quiet', 'build', '-t', 'seed:1', ctx], { encoding: 'utf8' });
  if (traced.error === undefined) { // strace is there
    assert.equal(traced.status, 0, traced.stderr);
    const takes = readFileSync(log, 'utf8').split('\n').filter((l) => /link\(.*, ".*\/leases\/\.lock"\) = 0/.test(l)).length;
    assert.equal(takes, STEPS + 1, `lease lock taken ${takes} times for ${STEPS} cached steps`);
  }

  // Untagged: now only the cache records (prune's late roots) and the leases keep the layers.
  assert.equal((await runCliAsync(['--root', root, 'rmi', 'seed:1'])).code, 0);

  let done = false;
  const prunes = { n: 0, failed: [] as string[] };
  const kinds = [[], ['--cache'], ['-a']] as const;
  const loop = (async () => {
    for (let n = 0; !done; n++) {
      const r = await runCliAsync(['--root', root, 'prune', ...kinds[n % kinds.length]!]);
      if (r.code !== 0) prunes.failed.push(r.stderr);
      prunes.n++;
    }
  })();
  const tags: string[] = [];
  let hits = 0;
  let misses = 0;
  for (let round = 0; round < 5; round++) {
    const batch = [0, 1, 2].map((i) => `hit-${round}-${i}:latest`);
    tags.push(...batch);
    const results = await Promise.all(batch.map(build));
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, `${batch[i]} failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
      const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as StepEvent);
      hits += events.filter((e) => e.type === 'step.cached').length;
      misses += events.filter((e) => e.type === 'step.miss').length;
    }
  }
  done = true;
  await loop;
  assert.deepEqual(prunes.failed, [], 'a prune failed');
  assert.ok(hits > 0, 'some steps were cache hits');

  const store = await LayerStore.open(root);
  for (const tag of tags) {
    const img = await store.image(tag);
    assert.equal(img.manifest.layers.length, STEPS, tag);
    for (const d of await store.references(img.descriptor)) assert.ok(await store.hasBlob(d), `${tag}: blob ${d} missing`);
  }
  const fsck = await store.fsck();
  assert.deepEqual(fsck.corrupt, []);
  assert.deepEqual(fsck.missing, []);
  assert.deepEqual((await readdir(join(root, 'leases'))).filter((n) => n.endsWith('.json')), []);
  console.log(`# full-hit builds: ${tags.length} beside ${prunes.n} prunes; steps ${hits} hit, ${misses} missed`);
});
