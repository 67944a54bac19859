import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

function tsbuild(root: string, args: string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  return runCli(['--root', root, ...args], { env });
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-inline-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

type Ev = { type: string; name?: string };
const events = (r: CliResult): Ev[] => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
const digest = (f: string) => readFile(f, 'utf8').then((t) => JSON.parse(t)['containerimage.digest'] as string);

test('--cache-to type=inline: the pushed image seeds a build on an empty root (every step hits, same digest); an edit reruns only its steps', async () => {
  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'a.txt'), 'a v1\n');
  await writeFile(join(ctx, 'b.txt'), 'b v1\n');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'WORKDIR /app',
    'COPY a.txt .',
    'RUN cp a.txt a.built',
    'COPY b.txt .',
    'RUN cat a.built b.txt > all.txt',
    '',
  ].join('\n'));
  const image = `${reg.host}/ci/app:main`;
  const rootA = join(work, 'runner-a');
  const rootB = join(work, 'runner-b');
  for (const r of [rootA, rootB]) assert.equal(tsbuild(r, ['import', bb.tar, 'busybox:latest'], { ...process.env, SOURCE_DATE_EPOCH: '0' }).code, 0);

  const metaA = join(work, 'a.json');
  const a = tsbuild(rootA, ['build', '--progress', 'plain', '-t', image, '--metadata-file', metaA, '--cache-to', 'type=inline', '--push', ctx]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /embedded 5 cache records in the image/);
  // The pushed image is an ordinary image whose config carries the records (skopeo reads it).
  const { stdout: cfg } = await run('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', `docker://${image}`]);
  const records = (JSON.parse(cfg) as Record<string, { v: number; records: { key: string }[] }>)['dev.tsbuild.cache.v1'];
  assert.equal(records?.v, 1);
  assert.equal(records?.records.length, 5);

  // An empty runner: every step is a hit from the image, and the result is the same image.
  const metaB = join(work, 'b.json');
  const b = tsbuild(rootB, ['build', '--progress', 'json', '-t', 'app:1', '--metadata-file', metaB, '--cache-from', `type=registry,ref=${image}`, '--cache-to', 'type=inline', ctx]);
  assert.equal(b.code, 0, b.stderr);
  const evB = events(b);
  assert.equal(evB.filter((e) => e.type === 'step.miss').length, 0, 'no step ran on the empty runner');
  assert.equal(evB.filter((e) => e.type === 'step.cached').length, 5);
  // The pushed result is an index of that image and buildx's default provenance (README: Attestations); the
  // cache is read through it, and the image B makes is the one in A's index.
  const { stdout: idx } = await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${image}`]);
  assert.equal(JSON.parse(idx).manifests[0].digest, await digest(metaB), 'identical image digest from an empty root');
  assert.notEqual(await digest(metaA), await digest(metaB));

  // A third runner after an edit of b.txt: the steps before COPY b.txt hit from the image, the rest run.
  await writeFile(join(ctx, 'b.txt'), 'b v2\n');
  const rootC = join(work, 'runner-c');
  assert.equal(tsbuild(rootC, ['import', bb.tar, 'busybox:latest'], { ...process.env, SOURCE_DATE_EPOCH: '0' }).code, 0);
  const c = tsbuild(rootC, ['build', '--progress', 'json', '-t', 'app:2', '--cache-from', `type=registry,ref=${image}`, ctx]);
  assert.equal(c.code, 0, c.stderr);
  const evC = events(c);
  assert.equal(evC.filter((e) => e.type === 'step.cached').length, 3, 'WORKDIR, COPY a.txt and the first RUN hit');
  assert.equal(evC.filter((e) => e.type === 'step.miss').length, 2, 'COPY b.txt and the RUN after it ran');

  // --cache-from type=inline is not a source, and mode=max is refused for inline: usage errors, exit 2.
  const bad = tsbuild(rootC, ['build', '--cache-from', 'type=inline', ctx]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --cache-from type=inline is not a cache source.*type=registry,ref=IMAGE/m);
  const bad2 = tsbuild(rootC, ['build', '--cache-to', 'type=inline,mode=max', ctx]);
  assert.equal(bad2.code, 2);
  assert.match(bad2.stderr, /mode=min only/);
});
