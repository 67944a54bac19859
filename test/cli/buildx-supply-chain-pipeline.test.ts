/**
 * The supply-chain pipeline a buildx user writes, in one process per step and no extra tool:
 * `build --push --sbom=true --provenance=mode=max --sign-by KEY`, then `pull --verify-key` into an empty store.
 * What arrives is the signed index with its attestation manifest (BuildKit's storage, read back with skopeo), its
 * SLSA provenance (max: the Dockerfile is in it) and its SPDX SBOM (the busybox binary's files are listed), shown by
 * `inspect --format '{{json .Provenance}}'` / `'{{json .SBOM}}'` as buildx imagetools does; and an image changed
 * after signing is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onlyErrorLine, runCliAsync, type CliResult } from '../helpers/cli.js';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
const PASSWORD = 'pipeline-key';
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;

function tsbuild(root: string, args: string[]): Promise<CliResult> {
  return runCliAsync(['--root', root, '--progress', 'plain', ...args], { env: { ...process.env, TSBUILD_PASSWORD: PASSWORD } });
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-supplychain-'));
  await mkdir(join(work, 'ctx'));
  await writeFile(join(work, 'ctx', 'msg'), 'attested and signed\n');
  await writeFile(join(work, 'ctx', 'Dockerfile'), 'FROM busybox:latest\nARG GITHUB_TOKEN\nCOPY msg /msg\nRUN echo built > /built\nCMD ["cat", "/msg"]\n');
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('build --push --sbom --provenance=mode=max --sign-by, then pull --verify-key: signed index, attestations, inspect', { timeout: 300_000 }, async () => {
  const root = join(work, 'root');
  assert.equal((await tsbuild(root, ['import', bb.tar, 'busybox:latest'])).code, 0);
  assert.equal((await tsbuild(root, ['generate-key-pair', '--output-key-prefix', join(work, 'cosign')])).code, 0);
  const ref = `${reg.host}/chain/app:1`;
  const b = await tsbuild(root, ['build', '-t', ref, '--push', '--sbom=true', '--provenance=mode=max', '--build-arg', 'GITHUB_TOKEN=ghp_supersecretvalue123',
    '--sign-by', join(work, 'cosign.key'), join(work, 'ctx')]);
  assert.equal(b.code, 0, b.stderr);

  // What the registry holds, read by skopeo: an index with the image and its attestation manifest.
  const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { manifests: { digest: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }[] };
  const image = raw.manifests.find((m) => m.platform?.os === 'linux')!;
  const att = raw.manifests.find((m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest')!;
  assert.ok(image && att, JSON.stringify(raw));
  assert.deepEqual(att.platform, { architecture: 'unknown', os: 'unknown' });
  assert.equal(att.annotations!['vnd.docker.reference.digest'], image.digest);
  const attManifest = JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/chain/app@${att.digest}`])).stdout) as { layers: { annotations?: Record<string, string> }[] };
  assert.deepEqual(attManifest.layers.map((l) => l.annotations?.['in-toto.io/predicate-type']).sort(), ['https://slsa.dev/provenance/v1', 'https://spdx.dev/Document']);

  // Signed: verify names the index digest the tag serves.
  const digest = (await tsbuild(root, ['digest', ref])).stdout.trim();
  const v = await tsbuild(root, ['verify', '--key', join(work, 'cosign.pub'), ref]);
  assert.equal(v.code, 0, v.stderr);
  assert.ok(v.stdout.includes(digest), v.stdout);

  // Pulled into an empty store only after the check, attestations and all.
  const fresh = join(work, 'fresh');
  const p = await tsbuild(fresh, ['pull', '--verify-key', join(work, 'cosign.pub'), ref]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal((await tsbuild(fresh, ['run', ref])).stdout, 'attested and signed\n');
  const prov = JSON.parse((await tsbuild(fresh, ['inspect', '--format', '{{json .Provenance}}', ref])).stdout) as { SLSA: { buildDefinition: { externalParameters: { request: { args?: Record<string, string> } } }; runDetails: unknown } };
  assert.ok(prov.SLSA.runDetails, 'SLSA provenance v1');
  assert.ok(!JSON.stringify(prov).includes('ghp_supersecretvalue123'), 'a secret-like build arg never appears');
  assert.match(JSON.stringify(prov), /COPY msg \/msg/, 'mode=max carries the Dockerfile');
  const sbom = JSON.parse((await tsbuild(fresh, ['inspect', '--format', '{{json .SBOM}}', ref])).stdout) as { SPDX: { spdxVersion: string; files?: { fileName: string }[]; packages: { name: string }[] } };
  assert.equal(sbom.SPDX.spdxVersion, 'SPDX-2.3');
  assert.ok(sbom.SPDX.packages.length > 0, 'the SBOM describes the image');
  assert.deepEqual(await mountPoints(fresh), []);

  // Changed after signing (the tag moved to another image): refused, nothing tagged.
  assert.equal((await tsbuild(root, ['build', '-t', ref, '--push', '--provenance=false', '--build-arg', 'X=1', '--no-cache', join(work, 'ctx')])).code, 0);
  const other = join(work, 'other');
  const refused = await tsbuild(other, ['pull', '--verify-key', join(work, 'cosign.pub'), ref]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(onlyErrorLine(refused), /not signed|no signature|signature/i);
  const imgs = await tsbuild(other, ['images', '-q']);
  assert.equal(imgs.stdout.trim(), '', 'nothing tagged in the store that refused it');
});
