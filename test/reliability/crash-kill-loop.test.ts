/**
 * Crash safety: real `tsbuild build` and `tsbuild pull` processes on ONE --root are killed with SIGKILL at random
 * delays (seeded PRNG: the seed is printed; set TSBUILD_CRASH_SEED to replay a run, TSBUILD_CRASH_VERBOSE=1 to
 * trace each iteration). Build kill delays are spread over 0-1.5 s (a build takes about 2 s), pull kill delays
 * over 0-0.9 s (a pull of the 20 MB test image takes under a second), so most kills land mid-operation. After
 * every kill, `tsbuild fsck` (no repair) must find the store consistent, no tag may point at an image with a
 * missing blob (checked independently of fsck), and every mount left using the root must be one fsck reports as
 * a leaked mount over a dead build's scratch (the next build reclaims it). At the end a normal build (whose
 * output is checked) and pull succeed, no mount is left, and `fsck --repair` removes every leftover.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LayerStore, TEMP_GRACE_MS, type Digest } from '../../layer-store/index.js';
import { TSBUILD_BIN } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry } from '../helpers/registry.js';
import { prngFloat } from '../../bench/workloads.js';

/** At least this many SIGKILLs land on a live process. */
const KILLS = 50;
/** Kill delays of builds (about 2 s here) are uniform in [0, BUILD_MAX_DELAY_MS). */
const BUILD_MAX_DELAY_MS = 1500;
/** A pull of the test image takes 0.6-1 s here: its kill delays are uniform in [0, PULL_MAX_DELAY_MS). */
const PULL_MAX_DELAY_MS = 900;

/** Prints progress lines when TSBUILD_CRASH_VERBOSE is set (to replay a seed and see where it stands). */
function trace(msg: string): void {
  if (process.env.TSBUILD_CRASH_VERBOSE) console.log(`${new Date().toISOString()} ${msg}`);
}


interface Outcome { readonly killed: boolean; readonly midOperation: boolean; readonly code: number | null; readonly out: string }

/** Runs `tsbuild ARGS` and SIGKILLs it after `delayMs` unless it has exited by then. */
function runAndKill(root: string, args: readonly string[], delayMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let exited = false;
    let killed = false;
    let killedAt = Infinity;
    const started = Date.now();
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => {
      if (exited) return;
      killed = child.kill('SIGKILL');
      killedAt = Date.now();
    }, delayMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      // Mid-operation: before the kill, the process had started writing the store (a dir it writes into changed).
      void touchedSince(root, started, killedAt).then((mid) => resolve({ killed, midOperation: killed && mid, code, out }), reject);
    });
  });
}

/** Returns true when a dir the store is written through changed between `from` and `to` (epoch ms). */
async function touchedSince(root: string, from: number, to: number): Promise<boolean> {
  for (const d of ['', 'blobs/sha256', 'snapshots', 'tmp', 'leases', 'cache/steps']) {
    const st = await stat(join(root, d)).catch(() => undefined);
    if (st && st.mtimeMs >= from - 5 && st.mtimeMs <= to + 5) return true;
  }
  return false;
}

/** Returns the mounts at or over `root`: below it, or overlays whose layer dirs are in it (runc bundles). */
async function mountsUsing(root: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter((l) => l.includes(root + '/')).map((l) => l.split(' ')[4]!);
}

function tsbuild(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSBUILD_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Returns the problems of tags pointing at images with a missing blob (checked independently of fsck). */
async function tagsWithMissingBlobs(root: string): Promise<string[]> {
  const store = await LayerStore.open(root);
  const bad: string[] = [];
  for (const e of await store.listImages()) {
    if (e.names.length === 0) continue;
    let refs: Set<Digest>;
    try {
      refs = await store.references(e.descriptor, { tolerateMissing: false });
    } catch (err) {
      bad.push(`${e.names.join(',')}: ${(err as Error).message}`);
      continue;
    }
    for (const d of refs) if (!(await store.hasBlob(d))) bad.push(`${e.names.join(',')}: ${d} missing`);
  }
  return bad;
}

test(`${KILLS} SIGKILLs of builds and pulls on one root leave a store fsck finds consistent`, { timeout: 300_000 }, async (t) => {
  const seed = Number(process.env.TSBUILD_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const rand = prngFloat(seed);
  console.log(`crash-kill-loop seed=${seed} (replay: TSBUILD_CRASH_SEED=${seed})`);
  const started = Date.now();

  const [bb, reg] = await Promise.all([busyboxTar(), startRegistry()]);
  t.after(() => bb.cleanup());
  t.after(() => reg.stop());
  const work = await mkdtemp(join(tmpdir(), 'tsbuild-crash-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const root = join(work, 'root');
  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });

  // The image to pull: two random 10 MB layers, pushed from a separate root.
  const src = join(work, 'src');
  const srcCtx = join(work, 'src-ctx');
  await mkdir(srcCtx, { recursive: true });
  await writeFile(join(srcCtx, 'Dockerfile'), 'FROM busybox:latest\nRUN head -c 10000000 /dev/urandom > /a\nRUN head -c 10000000 /dev/urandom > /b\n');
  assert.equal(tsbuild(['--root', src, 'import', bb.tar, 'busybox:latest']).code, 0);
  const remote = `${reg.host}/crash/app:1`;
  const pushed = tsbuild(['--root', src, '--progress', 'plain', 'build', '-t', remote, '--push', srcCtx]);
  assert.equal(pushed.code, 0, pushed.stderr);

  assert.equal(tsbuild(['--root', root, 'import', bb.tar, 'busybox:latest']).code, 0);
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'RUN mkdir -p /base && for i in 1 2 3 4 5 6 7 8; do head -c 20000 /dev/urandom > /base/$i; done',
    'COPY data /data',
    'RUN sleep 0.5 && date > /when',
    'RUN cat /data > /copy && mkdir -p /d && for i in 1 2 3 4 5; do echo $i > /d/$i; done',
    'RUN cp -r /d /e && rm -f /d/1',
    'RUN echo one > /one',
    'RUN echo two > /two && rm /one',
    '',
  ].join('\n'));

  const setupS = (Date.now() - started) / 1000;
  let fsckMs = 0;
  let opMs = 0;
  let prepMs = 0;
  let kills = 0;
  let mid = 0;
  let completed = 0;
  let fsckRuns = 0;
  const leftoverKinds = new Map<string, number>();
  let pendingMounts = 0;
  const ops = { build: 0, pull: 0 };
  let lastKillAt = 0;
  for (let i = 0; kills < KILLS && i < KILLS * 3; i++) {
    const tp = Date.now();
    const op = rand() < 0.5 ? 'build' : 'pull';
    const delay = Math.floor(rand() * (op === 'build' ? BUILD_MAX_DELAY_MS : PULL_MAX_DELAY_MS));
    ops[op]++;
    trace(`#${i} ${op} prepare`);
    if (op === 'pull') {
      // Make the pull do real work: drop the image and its blobs first (not killed).
      const store = await LayerStore.open(root, { lockTimeoutMs: 20_000 });
      await store.untag(remote);
      await store.gc();
    } else {
      await writeFile(join(ctx, 'data'), `iteration ${i} of seed ${seed}\n`);
    }
    const args = op === 'build'
      ? ['--root', root, '--progress', 'plain', 'build', '-t', 'crash/built:latest', ctx]
      : ['--root', root, '--progress', 'plain', 'pull', remote];
    const t0 = Date.now();
    prepMs += t0 - tp;
    const r = await runAndKill(root, args, delay);
    opMs += Date.now() - t0;
    trace(`#${i} ${op} delay=${delay} killed=${r.killed} mid=${r.midOperation} code=${r.code} took=${Date.now() - t0}ms`);
    if (!r.killed) {
      // Finished before its kill time: it must have succeeded on the store the earlier kills left.
      completed++;
      assert.equal(r.code, 0, `${op} #${i} failed without being killed:\n${r.out}`);
      continue;
    }
    kills++;
    lastKillAt = Date.now();
    if (r.midOperation) mid++;

    trace(`#${i} fsck`);
    const tf = Date.now();
    const f = tsbuild(['--root', root, 'fsck']);
    fsckMs += Date.now() - tf;
    fsckRuns++;
    const lines = f.stdout.trim().split('\n');
    assert.equal(f.code, 0, `fsck after ${op} #${i} (killed after ${delay} ms, seed ${seed}):\n${f.stdout}${f.stderr}`);
    assert.deepEqual(lines.filter((l) => l.startsWith('problem ')), [], `seed ${seed}, ${op} #${i}`);
    for (const l of lines.filter((x) => x.startsWith('leftover '))) {
      const kind = l.split(' ')[1]!;
      leftoverKinds.set(kind, (leftoverKinds.get(kind) ?? 0) + 1);
    }
    trace(`#${i} checks`);
    assert.deepEqual(await tagsWithMissingBlobs(root), [], `after ${op} #${i} (seed ${seed})`);
    // Mounts may stay only over the scratch of the killed build (reclaimed by the next build): fsck names them.
    const leaked = await mountsUsing(root);
    for (const m of leaked) assert.ok(lines.some((l) => l.startsWith('leftover leaked-mount ') && l.includes(m)), `mount ${m} is not over a dead build's scratch (seed ${seed})\n${f.stdout}`);
    pendingMounts += leaked.length;
  }
  assert.ok(kills >= KILLS, `only ${kills} kills landed (seed ${seed})`);

  // A normal build and pull succeed afterwards; nothing is left mounted; fsck is clean.
  await writeFile(join(ctx, 'data'), `final of seed ${seed}\n`);
  const b = tsbuild(['--root', root, '--progress', 'plain', 'build', '-t', 'crash/built:latest', ctx]);
  assert.equal(b.code, 0, b.stderr);
  const out = tsbuild(['--root', root, 'run', 'crash/built:latest', 'sh', '-c', 'cat /copy; ls /d | wc -l; ls /e | wc -l']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`^final of seed ${seed}\\n\\s*4\\n\\s*5\\n$`));
  const p = tsbuild(['--root', root, '--progress', 'plain', 'pull', remote]);
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(await mountsUsing(root), [], 'the next build reclaimed every mount of the killed ones');
  const last = tsbuild(['--root', root, 'fsck']);
  assert.equal(last.code, 0, last.stdout);
  // fsck takes a temp file younger than its grace (TEMP_GRACE_MS, 10 s) for a write in flight and
  // leaves it: wait until the killed runs' temps are older, so the repair and the check after it judge them alike
  // (else one crossing the line between the two is left by the repair and reported by the check).
  await sleep(Math.max(0, lastKillAt + TEMP_GRACE_MS + 500 - Date.now()));
  const repaired = tsbuild(['--root', root, 'fsck', '--repair']);
  assert.equal(repaired.code, 0, repaired.stdout);
  const clean = tsbuild(['--root', root, 'fsck']);
  assert.match(clean.stdout, /^fsck: \d+ blobs checked, \d+ index entries, \d+ snapshots: consistent\n$/, 'repair removed every leftover');

  console.log(`crash-kill-loop seed=${seed}: ${kills} kills (${mid} mid-operation, ${completed} runs completed before their kill time; ` +
    `${ops.build} builds, ${ops.pull} pulls); fsck runs ${fsckRuns}: ${fsckRuns} consistent, 0 problems, leftovers reported ${JSON.stringify(Object.fromEntries(leftoverKinds))}, ` +
    `${pendingMounts} mounts pending reclaim; setup ${setupS.toFixed(1)} s, ops ${(opMs / 1000).toFixed(1)} s, fsck ${(fsckMs / 1000).toFixed(1)} s, prep ${(prepMs / 1000).toFixed(1)} s, total ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
