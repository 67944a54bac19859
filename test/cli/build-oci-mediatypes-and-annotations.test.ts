import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, onlyErrorLine, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

// `oci-mediatypes=false` (Docker v2 schema 2 manifests, configs, layers, manifest lists) and `--annotation` with
// buildx's index:/manifest:/manifest-descriptor:/index-descriptor: prefixes and [platform] qualifiers, read back
// with skopeo (the registry's bytes), podman (which shows HEALTHCHECK only for Docker-format images) and tar.
const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;
let root: string;
let ctx: string;
/** A context with no RUN: it builds for any platform without emulation. */
let scratchCtx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args]);
}
const ok = (r: CliResult): void => assert.equal(r.code, 0, r.stderr);

interface Doc {
  mediaType: string;
  config?: { mediaType: string };
  layers?: { mediaType: string }[];
  manifests?: { mediaType: string; digest: string; platform: { architecture: string }; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
}
async function raw(ref: string): Promise<Doc> {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(stdout) as Doc;
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-mediatypes-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  scratchCtx = join(work, 'scratch');
  await mkdir(ctx);
  await mkdir(scratchCtx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN echo b > /b.txt\nHEALTHCHECK --interval=5s CMD true\n');
  await writeFile(join(scratchCtx, 'a.txt'), 'A\n');
  await writeFile(join(scratchCtx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n');
  ok(tsbuild(['import', bb.tar, 'busybox:latest']));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('oci-mediatypes=false pushes Docker v2 schema 2 (skopeo reads it; podman then shows the HEALTHCHECK, which it hides for OCI)', async (t) => {
  const docker = `${reg.host}/mt/docker:1`;
  const oci = `${reg.host}/mt/oci:1`;
  ok(tsbuild(['build', '-o', `type=registry,name=${docker},oci-mediatypes=false`, ctx]));
  // --provenance=false: a plain manifest, not an index with buildx's default provenance (README: Attestations).
  ok(tsbuild(['build', '--provenance=false', '-o', `type=registry,name=${oci}`, ctx]));
  const d = await raw(docker);
  assert.equal(d.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(d.config?.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.deepEqual([...new Set(d.layers?.map((l) => l.mediaType))], ['application/vnd.docker.image.rootfs.diff.tar.gzip']);
  assert.equal((await raw(oci)).mediaType, 'application/vnd.oci.image.manifest.v1+json');
  // The same config either way: the image ID does not depend on the media types.
  const { stdout: dc } = await run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${docker}`]);
  const { stdout: oc } = await run('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${oci}`]);
  assert.equal(dc, oc);

  for (const [ref, want] of [[docker, ['CMD-SHELL', 'true']], [oci, undefined]] as const) {
    // One podman storage per image: both have one config, so a shared storage would keep one manifest type.
    const pr = join(work, `podman-${ref.endsWith('docker:1') ? 'docker' : 'oci'}`);
    const common = ['--root', join(pr, 'root'), '--runroot', join(pr, 'run'), '--storage-driver', 'vfs'];
    t.after(() => run('podman', [...common, 'system', 'reset', '-f']).catch(() => undefined));
    await run('podman', [...common, 'pull', '-q', '--tls-verify=false', ref], { env: { ...process.env, TMPDIR: work } });
    const { stdout } = await run('podman', [...common, 'image', 'inspect', ref]);
    const img = JSON.parse(stdout)[0] as { Healthcheck?: { Test: string[] } };
    assert.deepEqual(img.Healthcheck?.Test, want, ref);
  }
});

test('oci-mediatypes=false on several platforms pushes a Docker manifest list; an OCI archive holds Docker types too', async () => {
  const ref = `${reg.host}/mt/list:1`;
  ok(tsbuild(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=image,name=${ref},push=true,oci-mediatypes=false`, scratchCtx]));
  const list = await raw(ref);
  assert.equal(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.deepEqual(list.manifests?.map((m) => [m.mediaType, m.platform.architecture]), [
    ['application/vnd.docker.distribution.manifest.v2+json', 'amd64'],
    ['application/vnd.docker.distribution.manifest.v2+json', 'arm64'],
  ]);
  const child = await raw(`${reg.host}/mt/list@${list.manifests![1]!.digest}`);
  assert.equal(child.config?.mediaType, 'application/vnd.docker.container.image.v1+json');

  const file = join(work, 'docker-types.oci.tar');
  ok(tsbuild(['build', '-t', 'dt:1', '-o', `type=oci,dest=${file},oci-mediatypes=false`, scratchCtx]));
  const { stdout: index } = await run('tar', ['-xOf', file, 'index.json']);
  const top = (JSON.parse(index) as Doc).manifests![0]!;
  assert.equal(top.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const { stdout: m } = await run('tar', ['-xOf', file, `blobs/sha256/${top.digest.slice(7)}`]);
  assert.equal((JSON.parse(m) as Doc).config?.mediaType, 'application/vnd.docker.container.image.v1+json');
  const { stdout: cfg } = await run('skopeo', ['inspect', '--config', `oci-archive:${file}`]);
  assert.equal(JSON.parse(cfg).rootfs.diff_ids.length, 1, 'skopeo reads the archive');

  const list2 = tsbuild(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=docker,dest=${join(work, 'never.tar')}`, scratchCtx]);
  assert.equal(list2.code, 2, 'a docker archive holds one platform (BuildKit refuses a list), before any work');
  assert.match(onlyErrorLine(list2), /docker exporter does not support exporting manifest lists/);
  const zstd = tsbuild(['build', '--compression', 'zstd', '-o', 'type=image,name=z:1,oci-mediatypes=false', scratchCtx]);
  assert.equal(zstd.code, 2);
  assert.match(onlyErrorLine(zstd), /compression=zstd" conflicts with "oci-mediatypes=false"/);
});

test('--annotation puts each type where buildx puts it: index, manifests (per platform), their descriptors, the index descriptor', async () => {
  const ref = `${reg.host}/ann/multi:1`;
  const archive = join(work, 'annotated.oci.tar');
  ok(tsbuild(['build', '--provenance=false', '--platform', 'linux/amd64,linux/arm64', '-t', ref, '--push', '-o', `type=oci,dest=${archive}`,
    '--annotation', 'index:org.opencontainers.image.description=two platforms',
    '--annotation', 'k=every',
    '--annotation', 'manifest[linux/arm64]:k=arm only',
    '--annotation', 'manifest-descriptor,manifest:both=yes',
    '--annotation', 'index-descriptor:at=top', scratchCtx]));
  const idx = await raw(ref);
  assert.deepEqual(idx.annotations, { 'org.opencontainers.image.description': 'two platforms' });
  assert.deepEqual(idx.manifests?.map((m) => m.annotations), [{ both: 'yes' }, { both: 'yes' }]);
  const amd = await raw(`${reg.host}/ann/multi@${idx.manifests![0]!.digest}`);
  const arm = await raw(`${reg.host}/ann/multi@${idx.manifests![1]!.digest}`);
  assert.deepEqual(amd.annotations, { k: 'every', both: 'yes' });
  assert.deepEqual(arm.annotations, { k: 'arm only', both: 'yes' });
  // The OCI layout's index.json lists the index with the index-descriptor annotations (and its name).
  const { stdout } = await run('tar', ['-xOf', archive, 'index.json']);
  const entry = (JSON.parse(stdout) as Doc).manifests![0]!;
  assert.equal(entry.annotations?.at, 'top');
  assert.equal(entry.annotations?.['org.opencontainers.image.ref.name'], ref);
});

test('one platform: manifest annotations (flag or output attribute); index annotations and other platforms are refused', async () => {
  const ref = `${reg.host}/ann/one:1`;
  ok(tsbuild(['build', '--provenance=false', '--platform', 'linux/amd64', '--annotation', 'org.example.flag=1', '--annotation', 'manifest[linux/amd64]:org.example.platform=amd64',
    '-o', `type=registry,name=${ref},annotation.org.example.attr=2`, scratchCtx]));
  assert.deepEqual((await raw(ref)).annotations, { 'org.example.flag': '1', 'org.example.platform': 'amd64', 'org.example.attr': '2' });
  const docker = `${reg.host}/ann/docker:1`;
  ok(tsbuild(['build', '--annotation', 'org.example.flag=1', '-o', `type=registry,name=${docker},oci-mediatypes=false`, scratchCtx]));
  const d = await raw(docker);
  assert.equal(d.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.deepEqual(d.annotations, { 'org.example.flag': '1' }, 'BuildKit keeps manifest annotations with Docker types');

  const cases: [string[], RegExp][] = [
    [['--annotation', 'index:a=b'], /index annotations not supported for single platform export/],
    [['--platform', 'linux/amd64', '--annotation', 'manifest[linux/arm64]:a=b'], /no platform linux\/arm64 found in source/],
    [['--annotation', 'manifest-descriptor:a=b', '-o', 'type=image,name=x:1,oci-mediatypes=false'], /cannot export annotations with "oci-mediatypes=false"/],
    [['--annotation', 'layer:a=b'], /unknown annotation type "layer"/],
    [['--annotation', 'novalue'], /invalid annotation "novalue", expected key=value/],
  ];
  for (const [flags, want] of cases) {
    const r = tsbuild(['build', ...flags, scratchCtx]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), want);
  }
});
