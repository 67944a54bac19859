import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, PassThrough } from 'node:stream';
import * as tsbuild from '../../cli/api.js';
import { busyboxTar } from '../helpers/build-env.js';

// The library side of buildx's contract: runBuildPipeline with a context stream (a gzipped tar, as stdin),
// `dockerfileContent`, `annotations`, an output whose dest is a stream and another in Docker media types.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-api-streams-'));
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Lists the tar GNU tar reads from `stream`. */
function tarList(stream: Readable): Promise<string[]> {
  const p = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'inherit'] });
  stream.pipe(p.stdin);
  let out = '';
  p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  return new Promise((res, rej) => p.once('close', (code) => (code === 0 ? res(out.split('\n').filter(Boolean)) : rej(new Error(`tar -t exited ${code}`)))));
}

test('runBuildPipeline: a gzipped context stream, a Dockerfile as bytes, annotations, a tar to a stream, Docker media types', async () => {
  const store = await tsbuild.LayerStore.open(join(work, 'root'));
  await tsbuild.importRootfs(store, bb.tar, 'busybox:latest');
  const runtime = await tsbuild.findRuntime();
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'in.txt'), 'from the stream\n');
  const gz = execFileSync('tar', ['-C', ctx, '-cz', '.']);

  const sink = new PassThrough();
  const listed = tarList(sink);
  const r = await tsbuild.runBuildPipeline({
    context: '/nonexistent: the stream is the context',
    contextStream: Readable.from([gz]),
    dockerfileContent: 'FROM busybox:latest\nCOPY in.txt /in.txt\n',
    tags: ['api-streams:1'],
    annotations: tsbuild.parseAnnotation('org.opencontainers.image.title=api'),
    outputs: [
      { type: 'tar', dest: sink },
      { type: 'image', names: [], ociMediaTypes: false },
    ],
    store, runtime,
  });
  sink.end();
  const files = await listed;
  assert.ok(files.includes('./in.txt') && files.includes('./bin/busybox'), files.slice(0, 10).join(' '));

  const img = await store.image('api-streams:1');
  assert.equal(img.descriptor.digest, r.imageDigest);
  assert.equal(img.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(img.manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.deepEqual(img.manifest.annotations, { 'org.opencontainers.image.title': 'api' });
  assert.deepEqual(await readdir(join(work, 'root', 'tmp')), [], 'the unpacked context is gone');
  const fsck = await store.fsck();
  assert.ok(fsck.consistent, JSON.stringify(fsck.findings));
});
