/**
 * Concurrency: 8 `tsbuild build` processes on one --root at once (4 of the same Dockerfile, 4 different ones),
 * with `tsbuild prune` and `tsbuild prune --cache` looping beside them. Every build must succeed with a complete
 * image, the identical builds must share one execution of their common step (one step.miss, three step.cached,
 * one image digest; the step writes random bytes, so a second execution could not give the same digest), and the
 * store must be consistent afterwards (every blob re-hashed by fsck, every tagged image readable by skopeo).
 */
import { spawn, execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerStore, importRootfs } from '../../layer-store/index.js';
import { busyboxTar } from '../helpers/build-env.js';
import { TSBUILD_BIN } from '../helpers/cli.js';

const run = promisify(execFile);

interface Proc {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tsbuild ARGS…` without blocking the event loop (so many can run at once). */
function tsbuild(args: readonly string[]): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [TSBUILD_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The shared step: random bytes, so two executions cannot produce the same layer. Slow enough for every build to reach it. */
const SHARED_RUN = 'RUN sleep 3; head -c 4096 /dev/urandom > /random; date +%s%N > /stamp';
/**
 * The step after it lasts a second too: `prune --cache` rightly drops the records of a build that has ended, and
 * the builds that waited for the shared step get through its lock one after another (up to ~0.25 s later). With
 * a quick second step, the first build could end before the last had leased the second step's key, and a prune
 * between the two took its record (a miss, "no previous build of this step", seen 1 run in 8).
 */
const IDENTICAL = `FROM busybox\n${SHARED_RUN}\nRUN sleep 1; echo after >> /stamp\nCMD ["cat", "/stamp"]\n`;
const different = (i: number): string =>
  `FROM busybox\nRUN --mount=type=cache,target=/cache,id=shared echo build-${i} >> /cache/log; cp /cache/log /seen\nCOPY f.txt /f.txt\nRUN echo ${i} > /n; sleep 1\n`;

let busybox: Awaited<ReturnType<typeof busyboxTar>>;
let base: string;

before(async () => {
  busybox = await busyboxTar();
  base = await mkdtemp(join(tmpdir(), 'tsbuild-concurrent-'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
  await busybox.cleanup();
});

test('8 concurrent builds and a looping prune on one root all succeed and share identical steps', { timeout: 120_000 }, async () => {
  const root = join(base, 'root');
  const store = await LayerStore.open(root);
  await importRootfs(store, busybox.tar, 'busybox:latest', { created: '1970-01-01T00:00:00.000Z' });

  const builds: { tag: string; ctx: string; identical: boolean }[] = [];
  for (let i = 0; i < 8; i++) {
    const ctx = join(base, `ctx-${i}`);
    await mkdir(ctx);
    const identical = i < 4;
    await writeFile(join(ctx, 'Dockerfile'), identical ? IDENTICAL : different(i));
    if (!identical) await writeFile(join(ctx, 'f.txt'), `file of build ${i}\n`);
    builds.push({ tag: `concurrent-${i}:latest`, ctx, identical });
  }

  const t0 = Date.now();
  let buildsDone = false;
  // In turn: plain (unreferenced blobs, dangling images), --cache (every unleased record and cache mount) and
  // -a (also the snapshots of named images, such as the busybox base the builds run on).
  const prunes = { plain: 0, cache: 0, all: 0, failed: [] as string[] };
  const kinds = [['plain', []], ['cache', ['--cache']], ['all', ['-a']]] as const;
  const pruneLoop = (async () => {
    for (let n = 0; !buildsDone; n++) {
      const [kind, flags] = kinds[n % kinds.length]!;
      const r = await tsbuild(['--root', root, 'prune', ...flags]);
      if (r.code !== 0) prunes.failed.push(r.stderr);
      prunes[kind]++;
    }
  })();
  const results = await Promise.all(builds.map((b) => tsbuild(['--root', root, '--progress', 'json', 'build', '-t', b.tag, b.ctx])));
  const buildMs = Date.now() - t0;
  buildsDone = true;
  await pruneLoop;

  // 1. Every build finished.
  results.forEach((r, i) => assert.equal(r.code, 0, `build ${i} failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`));
  assert.deepEqual(prunes.failed, [], 'a prune failed');
  assert.ok(prunes.plain + prunes.cache + prunes.all >= 3, `prune ran ${prunes.plain + prunes.cache + prunes.all} times beside the builds`);

  // 2. The shared step ran once: one miss and three cache hits over the four identical builds.
  let executions = 0;
  let hits = 0;
  for (const [i, r] of results.entries()) {
    if (!builds[i]!.identical) continue;
    const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; id?: string; name?: string });
    const sharedIds = new Set(events.filter((e) => e.type === 'step.start' && e.name?.includes('head -c 4096')).map((e) => e.id));
    assert.equal(sharedIds.size, 1, `build ${i} reported the shared step ${sharedIds.size} times`);
    executions += events.filter((e) => e.type === 'step.miss' && sharedIds.has(e.id)).length;
    hits += events.filter((e) => e.type === 'step.cached' && sharedIds.has(e.id)).length;
  }
  assert.equal(executions, 1, `the shared step ran ${executions} times for 4 identical builds`);
  assert.equal(hits, 3);

  // 3. Identical Dockerfiles gave one image; the different ones gave four more.
  const digests = await Promise.all(builds.map(async (b) => (await store.image(b.tag)).descriptor.digest));
  const steps = (r: Proc): string => r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; id?: string; reason?: { detail?: string } })
    .filter((e) => e.type === 'step.miss' || e.type === 'step.cached').map((e) => `${e.id} ${e.type === 'step.cached' ? 'hit' : `miss (${e.reason?.detail ?? ''})`}`).join(', ');
  assert.equal(new Set(digests.slice(0, 4)).size, 1, `identical builds gave different images: ${digests.slice(0, 4).join(' ')}; steps: ${results.slice(0, 4).map(steps).join(' | ')}`);
  assert.equal(new Set(digests).size, 5);

  // 4. Every image is complete, also after one more prune, and readable by another tool.
  const final = await tsbuild(['--root', root, 'prune']);
  assert.equal(final.code, 0, final.stderr);
  for (const b of builds) {
    const img = await store.image(b.tag);
    for (const d of await store.references(img.descriptor)) assert.ok(await store.hasBlob(d), `${b.tag}: blob ${d} missing`);
    const { stdout } = await run('skopeo', ['inspect', `oci:${root}:docker.io/library/${b.tag}`]);
    assert.equal((JSON.parse(stdout) as { Layers: string[] }).Layers.length, img.manifest.layers.length);
  }

  // 5. Every blob re-hashes to its name and nothing an index entry references is missing; no lease is left behind.
  const fsck = await store.fsck();
  assert.deepEqual(fsck.corrupt, []);
  assert.deepEqual(fsck.missing, []);
  assert.deepEqual((await readdir(join(root, 'leases'))).filter((n) => n.endsWith('.json')), []);
  assert.deepEqual(await readdir(join(root, 'cache', 'locks')), []);

  // The figures for the report.
  console.log(`# concurrent: 8 builds in ${buildMs} ms; prunes beside them: ${prunes.plain} plain + ${prunes.cache} --cache + ${prunes.all} -a; shared step executions: ${executions} for 4 identical builds (${hits} cache hits); fsck re-hashed ${fsck.checked} blobs`);
});
