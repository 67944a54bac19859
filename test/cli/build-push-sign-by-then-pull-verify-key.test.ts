import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, MediaTypes, type Digest } from '../../layer-store/index.js';
import { RegistryClient } from '../../registry-client/index.js';
import { onlyErrorLine, runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const PASSWORD = 'build-and-sign';
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[], r = root): CliResult {
  return runCli(['--root', r, '--progress', 'plain', ...args], { env: { ...process.env, TSBUILD_PASSWORD: PASSWORD } });
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-signbuild-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'msg'), 'signed build\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY msg /msg\nCMD ["cat", "/msg"]\n');
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
  assert.equal(tsbuild(['generate-key-pair', '--output-key-prefix', join(work, 'cosign')]).code, 0);
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('build --push --sign-by pushes, signs, then tags; pull --verify-key takes it into a fresh store', async () => {
  const ref = `${reg.host}/signed/app:1`;
  const b = tsbuild(['build', '-t', ref, '--push', '--sign-by', join(work, 'cosign.key'), ctx]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /signed .*signed\/app:1 \(sha256:[0-9a-f]{64}\): .*signed\/app:sha256-[0-9a-f]{64}\.sig/);
  const fresh = join(work, 'fresh');
  const p = tsbuild(['pull', '--verify-key', join(work, 'cosign.pub'), ref], fresh);
  assert.equal(p.code, 0, p.stderr);
  const r = tsbuild(['run', ref], fresh);
  assert.equal(r.stdout, 'signed build\n', r.stderr);
  const unsigned = `${reg.host}/signed/plain:1`;
  assert.equal(tsbuild(['build', '-t', unsigned, '--push', ctx]).code, 0);
  const refused = tsbuild(['pull', '--verify-key', join(work, 'cosign.pub'), unsigned], join(work, 'fresh2'));
  assert.equal(refused.code, 1);
  assert.match(onlyErrorLine(refused), /image is not signed/);
});

test('a signature that fails to upload moves no tag: the image stays reachable by digest only', async () => {
  const ref = `${reg.host}/signed/fails:1`;
  assert.equal(tsbuild(['build', '-t', ref, ctx]).code, 0);
  const d = tsbuild(['digest', ref]);
  assert.equal(d.code, 0, d.stderr);
  const digest = d.stdout.trim() as Digest;
  // Something that is not a signature manifest already holds this digest's .sig tag: appending must fail.
  assert.equal(tsbuild(['push', 'busybox:latest', `${reg.host}/signed/fails:base`]).code, 0);
  const client = new RegistryClient();
  try {
    const base = await client.source(`${reg.host}/signed/fails:base`).getManifest();
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ mediaType: base.mediaType, digest: base.digest, size: base.bytes.length }] }));
    await client.destination(`${reg.host}/signed/fails:x`).commitManifest({ mediaType: MediaTypes.ociIndex, bytes, digest: digestOf(bytes) }, `${digest.replace(':', '-')}.sig`);
    // --provenance=false: the pushed image is then the one built above (default provenance would make it an index).
    const b = tsbuild(['build', '-t', ref, '--push', '--provenance=false', '--sign-by', join(work, 'cosign.key'), ctx]);
    assert.equal(b.code, 1, b.stderr);
    // Build progress precedes it on stderr; the failure is one error line.
    const errors = b.stderr.split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(errors.length, 1, b.stderr);
    assert.match(errors[0]!, /signature tag holds a application\/vnd\.oci\.image\.index\.v1\+json, not an OCI image manifest \(.*signed\/fails:sha256-/);
    assert.deepEqual((await client.listTags(ref)).filter((t) => t === '1'), [], 'the tag moved to an unsigned image');
    assert.ok(await client.headManifest(`${reg.host}/signed/fails@${digest}`), 'the image itself went up by digest');
  } finally {
    await client.close();
  }
  const u = tsbuild(['build', '-t', 'local:1', '--sign-by', join(work, 'cosign.key'), ctx]);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /--sign-by signs what is pushed, and nothing is pushed/);
});
