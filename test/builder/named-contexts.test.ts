import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseBuildContextSource, runBuildPipeline, type BuildContextSource } from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';
import { busyboxTar, makeBuildEnv, mountPoints, type BuildEnv } from '../helpers/build-env.js';

// buildx's --build-context (BuildKit's named contexts, dockerfile_namedcontext_test.go): a name replaces the
// stage of that name and stands in for an image in FROM, COPY --from and RUN --mount from=.
const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let work: string;

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  work = await mkdtemp(join(tmpdir(), 'tsbuild-named-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function dockerfile(name: string, text: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), text);
  return dir;
}

async function buildWith(ctx: string, tag: string, contexts: Record<string, string>): Promise<Awaited<ReturnType<typeof runBuildPipeline>>> {
  const buildContexts: Record<string, BuildContextSource> = {};
  for (const [k, v] of Object.entries(contexts)) buildContexts[k] = parseBuildContextSource(k, v, work);
  return runBuildPipeline({ context: ctx, tags: [tag], store: env.store, cache: env.cache, runtime: env.runtime, buildContexts });
}

/** The files of the image's layers, flattened (later layers win), read with GNU tar. */
async function filesOf(tag: string): Promise<Map<string, string>> {
  const img = await env.store.image(tag);
  const out = new Map<string, string>();
  for (const l of img.manifest.layers) {
    const x = await mkdtemp(join(work, 'x-'));
    await run('tar', ['-xzf', env.store.blobPath(l.digest), '-C', x]);
    const { stdout } = await run('find', ['.', '-type', 'f'], { cwd: x });
    for (const f of stdout.split('\n').filter(Boolean)) out.set(f.slice(1), await readFile(join(x, f), 'utf8'));
    await rm(x, { recursive: true, force: true });
  }
  return out;
}

test('a directory replaces the stage of its name, with its own .dockerignore (testNamedLocalContext)', async () => {
  const base = join(work, 'basedir');
  await mkdir(base);
  await writeFile(join(base, 'o1'), 'first\n');
  await writeFile(join(base, 'o2'), 'second\n');
  await writeFile(join(base, '.dockerignore'), 'o2\n');
  const ctx = await dockerfile('local', 'FROM busybox AS base\nRUN echo stage > /out\nFROM scratch\nCOPY --from=base /o* /\n');
  await buildWith(ctx, 'named:local', { base: 'basedir' });
  const files = await filesOf('named:local');
  assert.deepEqual([...files.entries()], [['/o1', 'first\n']]);
  // The directory's content is the step's key: an edit reruns the COPY (no stale hit).
  await writeFile(join(base, 'o1'), 'edited\n');
  await buildWith(ctx, 'named:local2', { base: 'basedir' });
  assert.equal((await filesOf('named:local2')).get('/o1'), 'edited\n');
});

test('docker-image:// stands in for FROM, COPY --from and RUN --mount from= (testNamedImageContext)', async () => {
  const ctx = await dockerfile('image', [
    'FROM alpine AS base',
    'RUN --mount=from=tools,target=/t ls /t/bin/busybox > /mounted && echo ok > /out',
    'FROM scratch',
    'COPY --from=base /out /mounted /',
    'COPY --from=tools /bin/busybox /bb',
    '',
  ].join('\n'));
  await buildWith(ctx, 'named:image', { alpine: 'docker-image://busybox:latest', 'docker.io/library/tools:latest': 'docker-image://busybox' });
  const files = await filesOf('named:image');
  assert.equal(files.get('/out'), 'ok\n');
  assert.equal(files.get('/mounted'), '/t/bin/busybox\n');
  assert.ok(files.has('/bb'));
});

test('docker-image://scratch is an empty base (testNamedImageContextScratch)', async () => {
  const ctx = await dockerfile('scratch', 'FROM busybox AS build\nCOPY <<EOF /out\nhello world!\nEOF\n');
  await buildWith(ctx, 'named:scratch', { busybox: 'docker-image://scratch' });
  const img = await env.store.image('named:scratch');
  assert.equal(img.manifest.layers.length, 1);
  assert.deepEqual([...(await filesOf('named:scratch')).entries()], [['/out', 'hello world!\n']]);
});

test('oci-layout:// by digest replaces a stage and a FROM name (testNamedOCILayoutContext); target: names a stage', async () => {
  const src = await dockerfile('oci-src', 'FROM busybox\nRUN mkdir /test && echo first > /test/outfirst && echo bar > /test/outfoo\n');
  await buildWith(src, 'named:oci-src', {});
  const layout = join(work, 'layout');
  // skopeo, an independent reader of the store's OCI layout, writes the layout the build then reads.
  await run('skopeo', ['copy', `oci:${env.store.root}:docker.io/library/named:oci-src`, `oci:${layout}:foo`]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const digest = index.manifests[0]!.digest;
  const ctx = await dockerfile('oci', [
    'FROM busybox AS base',
    'RUN mkdir /test && echo never > /test/outnever',
    'FROM foo AS imported',
    'RUN echo second > /test/outsecond',
    'FROM busybox AS other',
    'RUN echo other > /other',
    'FROM scratch',
    'COPY --from=base /test/o* /',
    'COPY --from=imported /test/outsecond /',
    'COPY --from=alias /other /',
    '',
  ].join('\n'));
  await buildWith(ctx, 'named:oci', { base: `oci-layout://layout@${digest}`, foo: 'oci-layout://layout:foo', alias: 'target:other' });
  const files = await filesOf('named:oci');
  assert.equal(files.get('/outfirst'), 'first\n');
  assert.equal(files.get('/outfoo'), 'bar\n');
  assert.equal(files.get('/outsecond'), 'second\n');
  assert.equal(files.get('/other'), 'other\n');
  assert.ok(!files.has('/outnever'));
  // Copied in unnamed: the store lists no new name for it.
  assert.ok(!(await env.store.listImages()).some((e) => e.names.some((n) => n.includes('foo'))));
  assert.deepEqual(await mountPoints(env.root), []);
});

test('bad --build-context values fail before the build, naming the value', async () => {
  const ctx = await dockerfile('bad', 'FROM busybox\n');
  const fails = async (contexts: Record<string, string>, re: RegExp): Promise<void> => {
    await assert.rejects(buildWith(ctx, 'named:bad', contexts), (e: unknown) => TsbuildError.is(e) && re.test(e.message));
  };
  await fails({ base: 'no-such-dir' }, /--build-context base=.*no-such-dir: no such directory/);
  await fails({ Base: 'basedir' }, /--build-context Base: invalid context name/);
  await fails({ base: 'oci-layout://layout:nope' }, /no image nope in the OCI layout/);
  await fails({ base: 'https://example.invalid/repo.git' }, /remote named contexts .* not supported/);
  await fails({ base: 'docker-image://Bad' }, /not a valid image reference/);
  await fails({ busybox: 'target:missing' }, /named context target:missing: no stage missing/);
  assert.equal((await env.store.listImages()).filter((e) => e.names.includes('docker.io/library/named:bad')).length, 0);
});
