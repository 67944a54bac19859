import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { ociProblems } from '../helpers/oci-schema.js';

const run = promisify(execFile);
const ARM64_BUSYBOX = join(repoRoot(), '.tmp', 'arm64', 'bin', 'busybox');
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

const tsbuild = (root: string, args: string[]): CliResult => runCli(['--root', root, ...args]);
const ok = (r: CliResult): CliResult => { assert.equal(r.code, 0, r.stderr); return r; };
const sha = (s: string | Buffer): string => 'sha256:' + createHash('sha256').update(s).digest('hex');

interface Desc { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: { os: string; architecture: string } }
interface Index { mediaType: string; manifests: Desc[] }
interface Manifest { mediaType: string; layers: Desc[]; subject?: Desc }

async function skopeoRaw(ref: string): Promise<string> {
  return (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout;
}
async function blob(repo: string, digest: string): Promise<string> {
  const r = await fetch(`http://${reg.host}/v2/${repo}/blobs/${digest}`);
  assert.equal(r.status, 200);
  return r.text();
}
/** Uploads `body` as a blob of `repo` (monolithic POST + PUT), returns its descriptor fields. */
async function putBlob(repo: string, body: string): Promise<{ digest: string; size: number }> {
  const start = await fetch(`http://${reg.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = new URL(start.headers.get('location')!, `http://${reg.host}`);
  loc.searchParams.set('digest', sha(body));
  const put = await fetch(loc, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201);
  return { digest: sha(body), size: Buffer.byteLength(body) };
}
async function putManifest(repo: string, ref: string, mediaType: string, body: string): Promise<void> {
  const r = await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  assert.equal(r.status, 201, await r.text());
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-attest-multi-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a linux/amd64 + linux/arm64 build with --sbom and --provenance attests each platform; inspect shows a map by platform', async () => {
  if (!existsSync(ARM64_BUSYBOX) || !existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) {
    assert.fail('run scripts/setup.sh as root: it unpacks busybox-static:arm64 into .tmp/arm64 and registers qemu-aarch64 with binfmt_misc');
  }
  const seed = join(work, 'seed');
  await run('sh', [join(repoRoot(), 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(work, 'arm64-rootfs'), '-o', join(work, 'arm64.tar'), '-b', ARM64_BUSYBOX]);
  ok(tsbuild(seed, ['import', '--platform', 'linux/amd64', bb.tar, 'bb:amd64']));
  ok(tsbuild(seed, ['import', '--platform', 'linux/arm64', join(work, 'arm64.tar'), 'bb:arm64']));
  ok(tsbuild(seed, ['push', 'bb:amd64', `${reg.host}/base/bb:amd64`]));
  ok(tsbuild(seed, ['push', 'bb:arm64', `${reg.host}/base/bb:arm64`]));
  const base = `${reg.host}/base/bb:latest`;
  ok(tsbuild(seed, ['manifest', 'create', base, `${reg.host}/base/bb:amd64`, `${reg.host}/base/bb:arm64`]));
  ok(tsbuild(seed, ['manifest', 'push', base]));

  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), `FROM ${base}\nRUN uname -m > /arch\n`);
  const root = join(work, 'root');
  const image = `${reg.host}/apps/multi:1`;
  ok(tsbuild(root, ['build', '--platform', 'linux/amd64,linux/arm64', '--attest', 'type=sbom', '--attest', 'type=provenance,mode=max', '--push', '-t', image, ctx]));

  const idx = JSON.parse(await skopeoRaw(image)) as Index;
  assert.deepEqual(ociProblems('index', idx), []);
  assert.deepEqual(idx.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`), ['linux/amd64', 'linux/arm64', 'unknown/unknown', 'unknown/unknown']);
  const [amd, arm, a1, a2] = idx.manifests as [Desc, Desc, Desc, Desc];
  assert.equal(a1.annotations?.['vnd.docker.reference.digest'], amd.digest);
  assert.equal(a2.annotations?.['vnd.docker.reference.digest'], arm.digest);
  for (const [att, img, arch] of [[a1, amd, 'amd64'], [a2, arm, 'arm64']] as const) {
    assert.equal(att.annotations?.['vnd.docker.reference.type'], 'attestation-manifest');
    const m = JSON.parse(await skopeoRaw(`${reg.host}/apps/multi@${att.digest}`)) as Manifest;
    assert.deepEqual(ociProblems('manifest', m), []);
    assert.equal(m.subject?.digest, img.digest);
    // One statement per predicate, provenance first (as BuildKit orders them), each annotated with its type.
    assert.deepEqual(m.layers.map((l) => [l.mediaType, l.annotations?.['in-toto.io/predicate-type']]), [
      ['application/vnd.in-toto+json', 'https://slsa.dev/provenance/v1'],
      ['application/vnd.in-toto+json', 'https://spdx.dev/Document'],
    ]);
    for (const l of m.layers) {
      const st = JSON.parse(await blob('apps/multi', l.digest)) as { _type: string; predicateType: string; subject: { name: string; digest: { sha256: string } }[]; predicate: Record<string, any> };
      assert.equal(st._type, 'https://in-toto.io/Statement/v1');
      assert.equal(st.predicateType, l.annotations?.['in-toto.io/predicate-type']);
      assert.deepEqual(st.subject, [{ name: `pkg:docker/${reg.host}/apps/multi@1?platform=linux%2F${arch}`, digest: { sha256: img.digest.slice(7) } }]);
      if (st.predicateType === 'https://spdx.dev/Document') assert.equal(st.predicate.spdxVersion, 'SPDX-2.3');
      else {
        // The base by name and platform, with the digest of the platform manifest the build pulled and used
        // (the store holds that child, not the index).
        const dep = (st.predicate.buildDefinition.resolvedDependencies as { uri?: string; digest: { sha256: string } }[])[0]!;
        assert.equal(dep.uri, `pkg:docker/${reg.host}/base/bb@latest?platform=linux%2F${arch}`);
        const baseIdx = JSON.parse(await skopeoRaw(base)) as Index;
        assert.equal('sha256:' + dep.digest.sha256, baseIdx.manifests.find((m) => m.platform?.architecture === arch)!.digest);
      }
    }
  }
  const prov = JSON.parse(ok(tsbuild(root, ['inspect', '--format', '{{json .Provenance}}', image])).stdout) as Record<string, { SLSA: { buildDefinition: unknown } }>;
  assert.deepEqual(Object.keys(prov), ['linux/amd64', 'linux/arm64']);
  const sbom = JSON.parse(ok(tsbuild(root, ['inspect', '--format', '{{json .SBOM}}', image])).stdout) as Record<string, { SPDX: { spdxVersion: string } }>;
  assert.deepEqual(Object.keys(sbom), ['linux/amd64', 'linux/arm64']);
  assert.equal(sbom['linux/arm64']!.SPDX.spdxVersion, 'SPDX-2.3');
  // --platform pulls and run pick the platform image, never the unknown/unknown entries.
  const fresh = join(work, 'fresh');
  ok(tsbuild(fresh, ['pull', '--platform', 'linux/arm64', image]));
  assert.equal(ok(tsbuild(fresh, ['run', '--platform', 'linux/arm64', image, 'cat', '/arch'])).stdout, 'aarch64\n');
  const all = join(work, 'all');
  ok(tsbuild(all, ['pull', '--all-platforms', image]));
  assert.equal(JSON.parse(ok(tsbuild(all, ['inspect', '--oci', image])).stdout).Descriptor.digest, sha(await skopeoRaw(image)));
});

test('an index whose attestation manifest points at a missing image: pull fails with one line naming it, nothing tagged', async () => {
  const seed = join(work, 'seed2');
  ok(tsbuild(seed, ['import', bb.tar, 'bb:1']));
  const plain = `${reg.host}/bad/app:plain`;
  ok(tsbuild(seed, ['push', 'bb:1', plain]));
  const imgRaw = await skopeoRaw(plain);
  const img = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(imgRaw), size: Buffer.byteLength(imgRaw) };
  // A hand-made attestation manifest about an image that is in no index.
  const missing = sha('no such image');
  const stmt = await putBlob('bad/app', JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://slsa.dev/provenance/v1', subject: [{ name: '_', digest: { sha256: missing.slice(7) } }], predicate: {} }));
  await putBlob('bad/app', '{}');
  const attRaw = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.docker.attestation.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
    layers: [{ mediaType: 'application/vnd.in-toto+json', ...stmt, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v1' } }],
  });
  await putManifest('bad/app', sha(attRaw), 'application/vnd.oci.image.manifest.v1+json', attRaw);
  const idxRaw = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...img, platform: { architecture: 'amd64', os: 'linux' } }, {
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(attRaw), size: Buffer.byteLength(attRaw),
      annotations: { 'vnd.docker.reference.digest': missing, 'vnd.docker.reference.type': 'attestation-manifest' }, platform: { architecture: 'unknown', os: 'unknown' },
    }],
  });
  await putManifest('bad/app', 'broken', 'application/vnd.oci.image.index.v1+json', idxRaw);

  const root = join(work, 'root-bad');
  const r = tsbuild(root, ['pull', `${reg.host}/bad/app:broken`]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`malformed attestation manifest ${sha(attRaw)} .*refers to ${missing}`));
  assert.equal(ok(tsbuild(root, ['images', '-q'])).stdout, '');
  // copy registry → registry refuses it too, and nothing is tagged at the destination.
  const c = tsbuild(root, ['copy', `docker://${reg.host}/bad/app:broken`, `docker://${reg.host}/bad/copy:1`]);
  assert.equal(c.code, 1, c.stderr);
  assert.match(c.stderr, /malformed attestation manifest/);
  assert.equal((await fetch(`http://${reg.host}/v2/bad/copy/manifests/1`, { method: 'HEAD' })).status, 404);
});

test('--sbom=scan-context=true,scan-stage=true: the image\'s SPDX document, then the context\'s and each other stage\'s; stored in the store too', async () => {
  const root = join(work, 'root-stages');
  ok(tsbuild(root, ['import', bb.tar, 'busybox:latest']));
  const ctx = join(work, 'ctx-stages');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest AS build\nRUN echo built > /out\nFROM busybox:latest\nCOPY --from=build /out /out\n');
  ok(tsbuild(root, ['build', '--sbom=scan-context=true,scan-stage=true', '--provenance=false', '-t', 'staged:1', ctx]));
  const top = JSON.parse(ok(tsbuild(root, ['inspect', '--oci', 'staged:1'])).stdout) as { Index: Index };
  assert.deepEqual(top.Index.manifests.map((m) => m.platform?.os), ['linux', 'unknown']);
  const sbom = JSON.parse(ok(tsbuild(root, ['inspect', '--format', '{{json .SBOM}}', 'staged:1'])).stdout) as { SPDX: { name: string }; AdditionalSPDXs: { name: string }[] };
  assert.equal(sbom.SPDX.name, 'staged:1');
  assert.deepEqual(sbom.AdditionalSPDXs.map((d) => d.name), ['staged:1 (context)', 'staged:1 (stage build)']);
  assert.equal(ok(tsbuild(root, ['inspect', '--format', '{{json .Provenance}}', 'staged:1'])).stdout.trim(), '{}');
});
