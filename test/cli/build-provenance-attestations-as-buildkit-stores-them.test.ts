import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { ociProblems } from '../helpers/oci-schema.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

const tsbuild = (root: string, args: string[], env?: NodeJS.ProcessEnv): CliResult => runCli(['--root', root, ...args], env ? { env: { ...process.env, ...env } } : {});
const ok = (r: CliResult): CliResult => { assert.equal(r.code, 0, r.stderr); return r; };
const sha = (s: string | Buffer): string => 'sha256:' + createHash('sha256').update(s).digest('hex');

interface Desc { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: { os: string; architecture: string }; data?: string }
interface Index { mediaType: string; manifests: Desc[] }
interface Manifest { mediaType: string; artifactType?: string; config: Desc; layers: Desc[]; subject?: Desc }

async function skopeoRaw(ref: string): Promise<string> {
  return (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout;
}
async function blob(repo: string, digest: string): Promise<string> {
  const r = await fetch(`http://${reg.host}/v2/${repo}/blobs/${digest}`);
  assert.equal(r.status, 200, `blob ${digest}`);
  return r.text();
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-attest-'));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('--provenance=mode=max --push: an index with an attestation manifest as BuildKit stores it, read back with skopeo; no secret in it', async () => {
  const root = join(work, 'root');
  ok(tsbuild(root, ['import', bb.tar, 'busybox:latest']));
  const base = `${reg.host}/base/busybox:1`;
  ok(tsbuild(root, ['push', 'busybox:latest', base]));
  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  const dockerfile = [`FROM ${base}`, 'ARG GITHUB_TOKEN', 'ARG VERSION', 'RUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc > /dev/null; echo "$VERSION" > /v', ''].join('\n');
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  await writeFile(join(work, 'npmrc'), 'registry-token-VALUE-0123456789');
  const image = `${reg.host}/apps/prov:1`;
  ok(tsbuild(root, ['build', '--provenance=mode=max', '--push', '-t', image, '--build-arg', 'GITHUB_TOKEN=ghp_SECRETVALUE0123456789abcdefghijklmnopqr', '--build-arg', 'VERSION=1.2.3',
    '--secret', `id=npmrc,src=${join(work, 'npmrc')}`, '--label', 'team=core', ctx]));

  const rawIndex = await skopeoRaw(image);
  const idx = JSON.parse(rawIndex) as Index;
  assert.deepEqual(ociProblems('index', idx), []);
  assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(idx.manifests.length, 2);
  const [img, att] = idx.manifests as [Desc, Desc];
  assert.equal(img.platform?.os, 'linux');
  assert.deepEqual(att.platform, { architecture: 'unknown', os: 'unknown' });
  assert.deepEqual(att.annotations, { 'vnd.docker.reference.digest': img.digest, 'vnd.docker.reference.type': 'attestation-manifest' });

  const am = JSON.parse(await skopeoRaw(`${reg.host}/apps/prov@${att.digest}`)) as Manifest;
  assert.deepEqual(ociProblems('manifest', am), []);
  assert.equal(am.artifactType, 'application/vnd.docker.attestation.manifest.v1+json');
  assert.deepEqual(am.config, { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2, data: 'e30=' });
  assert.deepEqual(am.subject, { mediaType: img.mediaType, digest: img.digest, size: img.size });
  assert.equal(am.layers.length, 1);
  assert.equal(am.layers[0]!.mediaType, 'application/vnd.in-toto+json');
  assert.deepEqual(am.layers[0]!.annotations, { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v1' });

  const text = await blob('apps/prov', am.layers[0]!.digest);
  assert.equal(sha(text), am.layers[0]!.digest);
  const st = JSON.parse(text) as { _type: string; predicateType: string; subject: { name: string; digest: { sha256: string } }[]; predicate: Record<string, any> };
  assert.equal(st._type, 'https://in-toto.io/Statement/v1');
  assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1');
  assert.deepEqual(st.subject, [{ name: `pkg:docker/${reg.host}/apps/prov@1?platform=linux%2Famd64`, digest: { sha256: img.digest.slice(7) } }]);
  const p = st.predicate;
  assert.equal(p.buildDefinition.buildType, 'https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md');
  assert.equal(p.buildDefinition.externalParameters.configSource.path, 'Dockerfile');
  const req = p.buildDefinition.externalParameters.request;
  assert.equal(req.frontend, 'dockerfile.v0');
  assert.deepEqual(req.args, { 'build-arg:VERSION': '1.2.3', 'label:team': 'core' });
  assert.deepEqual(req.secrets, [{ id: 'npmrc' }]);
  assert.deepEqual(req.locals, [{ name: 'context' }, { name: 'dockerfile' }]);
  const baseDigest = JSON.parse(tsbuild(root, ['inspect', base]).stdout)[0].Descriptor.digest as string;
  assert.deepEqual(p.buildDefinition.resolvedDependencies, [
    { uri: `pkg:docker/${reg.host}/base/busybox@1?platform=linux%2Famd64`, digest: { sha256: baseDigest.slice(7) } },
    { name: 'Dockerfile', digest: { sha256: sha(dockerfile).slice(7) } },
  ]);
  assert.ok(p.buildDefinition.internalParameters.buildConfig.llbDefinition.length >= 1, 'max: the steps');
  assert.equal(Buffer.from(p.runDetails.metadata.tsbuild_metadata.source.infos[0].data, 'base64').toString(), dockerfile);
  assert.match(p.runDetails.metadata.invocationId, /^[0-9a-f]{25}$/);
  assert.ok(Date.parse(p.runDetails.metadata.startedOn) <= Date.parse(p.runDetails.metadata.finishedOn));
  assert.equal(p.runDetails.metadata.tsbuild_completeness.request, false, 'a secret-like build arg was left out');
  // Secrets and secret-like build args never appear, in any blob the registry holds for the image.
  for (const d of [rawIndex, JSON.stringify(am), text]) {
    assert.ok(!d.includes('ghp_SECRETVALUE'), 'the GITHUB_TOKEN value');
    assert.ok(!d.includes('GITHUB_TOKEN='), 'the GITHUB_TOKEN arg');
    assert.ok(!d.includes('registry-token-VALUE'), 'the secret file');
  }

  // inspect --format shows it as buildx imagetools does (one platform: the stub itself).
  const prov = JSON.parse(ok(tsbuild(root, ['inspect', '--format', '{{json .Provenance}}', image])).stdout) as { SLSA: { buildDefinition: { buildType: string } } };
  assert.equal(prov.SLSA.buildDefinition.buildType, p.buildDefinition.buildType);
  assert.equal(ok(tsbuild(root, ['inspect', '--format', '{{json .SBOM}}', image])).stdout.trim(), '{}');

  // Pulled into an empty root, saved and loaded into another: the index and its attestation stay, byte for byte.
  const fresh = join(work, 'fresh');
  ok(tsbuild(fresh, ['pull', image]));
  assert.equal(JSON.parse(ok(tsbuild(fresh, ['inspect', '--oci', image])).stdout).Descriptor.digest, sha(rawIndex));
  const archive = join(work, 'prov.tar');
  ok(tsbuild(fresh, ['save', '-o', archive, image]));
  const other = join(work, 'other');
  ok(tsbuild(other, ['load', '-i', archive]));
  const loaded = JSON.parse(ok(tsbuild(other, ['inspect', '--format', '{{json .Provenance}}', image])).stdout) as { SLSA: unknown };
  assert.deepEqual(loaded.SLSA, p);
  // run and --platform pulls ignore the unknown/unknown entry.
  assert.equal(ok(tsbuild(other, ['run', image, 'cat', '/v'])).stdout, '1.2.3\n');
  // A docker-archive holds one image: copy writes the platform image, without its attestation.
  const dockerTar = join(work, 'prov.docker.tar');
  ok(tsbuild(other, ['copy', image, `docker-archive:${dockerTar}:prov:1`]));
  assert.match((await run('tar', ['-xOf', dockerTar, 'manifest.json'])).stdout, /"docker.io\/library\/prov:1"/);
  assert.match(ok(tsbuild(other, ['fsck'])).stdout, /consistent/);
  // skopeo copies the whole index (every manifest and blob) into an OCI layout.
  const layout = join(work, 'layout');
  await run('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${image}`, `oci:${layout}:x`]);
  const copied = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
  assert.equal(copied.manifests[0]!.digest, sha(rawIndex));
});

test('default: mode=min provenance on pushed images only; --provenance=false and BUILDX_NO_DEFAULT_ATTESTATIONS turn it off', async () => {
  const root = join(work, 'root');
  const ctx = join(work, 'ctx-min');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), `FROM ${reg.host}/base/busybox:1\nARG VERSION\nRUN echo "$VERSION" > /v\n`);
  // Not pushed: the store keeps a plain manifest (as --load and Docker's classic store).
  ok(tsbuild(root, ['build', '-t', 'local-only:1', '--build-arg', 'VERSION=9', ctx]));
  assert.equal(JSON.parse(ok(tsbuild(root, ['inspect', '--oci', 'local-only:1'])).stdout).Descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  // Pushed: the default provenance, mode=min (no build-arg values, no Dockerfile, no steps).
  const image = `${reg.host}/apps/min:1`;
  ok(tsbuild(root, ['build', '--push', '-t', image, '--build-arg', 'VERSION=9', ctx]));
  const idx = JSON.parse(await skopeoRaw(image)) as Index;
  assert.equal(idx.manifests.length, 2);
  const am = JSON.parse(await skopeoRaw(`${reg.host}/apps/min@${idx.manifests[1]!.digest}`)) as Manifest;
  const st = JSON.parse(await blob('apps/min', am.layers[0]!.digest)) as { predicate: Record<string, any> };
  assert.equal(st.predicate.buildDefinition.externalParameters.request.args, undefined);
  assert.equal(st.predicate.buildDefinition.internalParameters.buildConfig, undefined);
  assert.equal(st.predicate.runDetails.metadata.tsbuild_metadata.source, undefined);
  assert.equal(st.predicate.runDetails.metadata.tsbuild_completeness.request, false);
  // Off: a plain manifest is pushed.
  for (const [args, env] of [[['--provenance=false'], undefined], [[], { BUILDX_NO_DEFAULT_ATTESTATIONS: '1' }]] as const) {
    const name = `${reg.host}/apps/off:${args.length}`;
    ok(tsbuild(root, ['build', ...args, '--push', '-t', name, ctx], env));
    assert.equal((JSON.parse(await skopeoRaw(name)) as Manifest).mediaType, 'application/vnd.oci.image.manifest.v1+json');
  }
});

test('flags are read as buildx reads them; unknown types and attributes are usage errors naming them', () => {
  const root = join(work, 'root-flags');
  const cases: [string[], RegExp][] = [
    [['--attest', 'type=foo'], /unknown attestation type "foo"/],
    [['--attest', 'type=provenance,colour=red'], /unknown provenance attribute "colour"/],
    [['--attest', 'mode=max'], /attestation type not specified/],
    [['--provenance', 'mode=medium'], /invalid provenance mode "medium"/],
    [['--sbom', 'generator=example.com/my/scanner:1'], /cannot run SBOM generator image example.com\/my\/scanner:1/],
    [['--attest', 'type=sbom,disabled=maybe'], /disabled=maybe: not a boolean/],
    [['--provenance=true', '-o', 'type=docker,dest=x.tar'], /docker exporter does not support exporting manifest lists/],
    [['--sbom=true', '-o', 'type=local,dest=out'], /attestations are not written into --output type=local/],
  ];
  for (const [args, re] of cases) {
    const r = tsbuild(root, ['build', ...args, '-t', 'x:1', join(work, 'ctx-min')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
