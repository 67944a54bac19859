import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendSignature, makePayload, offersReferrers, readPrivateKey, signPayload, SIGNATURE_ARTIFACT_TYPE,
} from '../../builder/index.js';
import { MediaTypes } from '../../layer-store/index.js';
import { parseReference, RegistryClient } from '../../registry-client/index.js';
import { onlyErrorLine, runCli, runCliAsync, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';

const PASSWORD = 'pw-for-tests';
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;
let root: string;
let key: string;
let pub: string;
let otherPub: string;

function tsbuild(args: string[], env: NodeJS.ProcessEnv = { TSBUILD_PASSWORD: PASSWORD }): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args], { env: { ...process.env, TSBUILD_PASSWORD: undefined, COSIGN_PASSWORD: undefined, ...env } });
}

function failsWith(r: CliResult, re: RegExp, code = 1): void {
  assert.equal(r.code, code, r.stderr);
  assert.match(onlyErrorLine(r), re);
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-signbad-'));
  root = join(work, 'root');
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
  assert.equal(tsbuild(['generate-key-pair', '--output-key-prefix', join(work, 'k')]).code, 0);
  assert.equal(tsbuild(['generate-key-pair', '--output-key-prefix', join(work, 'other')]).code, 0);
  key = join(work, 'k.key');
  pub = join(work, 'k.pub');
  otherPub = join(work, 'other.pub');
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('bad keys: a wrong password, a file that is not a key, the wrong half of the pair: one line naming the file', async () => {
  const ref = `${reg.host}/bad/keys:1`;
  assert.equal(tsbuild(['push', 'busybox:latest', ref]).code, 0);
  failsWith(tsbuild(['sign', '--key', key, ref], { TSBUILD_PASSWORD: 'wrong' }), new RegExp(`wrong password for the private key \\(${key}\\): set TSBUILD_PASSWORD`));
  const notKey = join(work, 'notes.txt');
  await writeFile(notKey, 'just some text\n');
  failsWith(tsbuild(['sign', '--key', notKey, ref]), new RegExp(`not a PEM key file \\(${notKey}\\)`));
  failsWith(tsbuild(['sign', '--key', pub, ref]), /PEM block "PUBLIC KEY" is not a private key/);
  failsWith(tsbuild(['verify', '--key', key, ref]), /PEM block "ENCRYPTED SIGSTORE PRIVATE KEY" is not a public key .*: verify with the public key/);
  const damaged = join(work, 'damaged.key');
  await writeFile(damaged, '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n');
  failsWith(tsbuild(['sign', '--key', damaged, ref]), /encrypted key body is not JSON/);
  failsWith(tsbuild(['sign', '--key', join(work, 'missing.key'), ref]), /cannot read private key: ENOENT/, 2);
  // Nothing was signed by any of those.
  failsWith(tsbuild(['verify', '--key', pub, ref]), /image is not signed/);

  // COSIGN_PASSWORD is read too, and cosign's older label is the same format.
  const older = join(work, 'older.key');
  await writeFile(older, (await readFile(key, 'utf8')).replaceAll('ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'));
  const s = tsbuild(['sign', '--key', older, ref], { COSIGN_PASSWORD: PASSWORD });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(tsbuild(['verify', '--key', pub, ref]).code, 0);
});

test('bad signatures: missing, by another key, for another digest, an identity or scope the policy refuses: one line each, and pull tags nothing', async () => {
  const ref = `${reg.host}/bad/sigs:1`;
  const other = `${reg.host}/bad/sigs:other`;
  assert.equal(tsbuild(['push', 'busybox:latest', ref]).code, 0);
  failsWith(tsbuild(['verify', '--key', pub, ref]), new RegExp(`image is not signed: no sha256-[0-9a-f]{64}\\.sig signature \\(${reg.host}/bad/sigs:1@sha256:[0-9a-f]{64}\\)`));
  assert.equal(tsbuild(['sign', '--key', key, ref]).code, 0);
  failsWith(tsbuild(['verify', '--key', otherPub, ref]), /none of its 1 signature verifies with .*other\.pub: signed by another key/);
  failsWith(runCli(['--root', join(work, 'fresh'), 'pull', '--verify-key', otherPub, ref]), /signed by another key/);
  assert.equal(runCli(['--root', join(work, 'fresh'), 'images', '-q']).stdout.trim(), '');

  // A valid signature by our key, but over another digest, filed under this image's .sig tag.
  const mutated = tsbuild(['mutate', ref, '-t', other, '-l', 'x=y']);
  assert.equal(mutated.code, 0, mutated.stderr);
  const client = new RegistryClient();
  try {
    const target = await client.source(ref).getManifest();
    const elsewhere = await client.source(other).getManifest();
    const signingKey = await readPrivateKey(await readFile(key, 'utf8'), key, async () => Buffer.from(PASSWORD));
    const payload = makePayload(`${reg.host}/bad/sigs:other`, elsewhere.digest);
    const desc = { mediaType: target.mediaType, digest: target.digest, size: target.bytes.length };
    await appendSignature(client, parseReference(`${reg.host}/bad/misfiled:1`), desc, payload, signPayload(payload, signingKey));
    assert.equal(tsbuild(['push', 'busybox:latest', `${reg.host}/bad/misfiled:1`]).code, 0);
  } finally {
    await client.close();
  }
  failsWith(tsbuild(['verify', '--key', pub, `${reg.host}/bad/misfiled:1`]), /the signature by .*k\.pub is for another digest, sha256:[0-9a-f]{64}/);

  // Policies: reject, exact identity, keyData, accept-anything, and requirements that cannot be checked here.
  const policy = async (name: string, doc: unknown): Promise<string> => {
    const f = join(work, name);
    await writeFile(f, JSON.stringify(doc));
    return f;
  };
  const keyData = Buffer.from(await readFile(pub, 'utf8')).toString('base64');
  const byData = await policy('data.json', { default: [{ type: 'reject' }], transports: { docker: { [`${reg.host}/bad`]: [{ type: 'sigstoreSigned', keyData }] } } });
  assert.equal(tsbuild(['verify', '--policy', byData, ref]).code, 0);
  failsWith(tsbuild(['verify', '--policy', byData, `${reg.host}/elsewhere/x:1`]), /policy rejects the image \(.*data\.json, scope default\)/);
  const exact = await policy('exact.json', { default: [{ type: 'sigstoreSigned', keyPath: pub, signedIdentity: { type: 'exactReference', dockerReference: `${reg.host}/bad/sigs:2` } }] });
  failsWith(tsbuild(['verify', '--policy', exact, ref]), /claims docker-reference .*bad\/sigs:1, which exactReference refuses .*scope default/);
  const anything = await policy('any.json', { default: [{ type: 'insecureAcceptAnything' }] });
  const p = runCli(['--root', join(work, 'fresh3'), 'pull', '--policy', anything, other]);
  assert.equal(p.code, 0, p.stderr);
  const gpg = await policy('gpg.json', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/dev/null' }] });
  failsWith(tsbuild(['verify', '--policy', gpg, ref]), /signedBy \(GPG simple signing\) requirements are not supported/, 2);
  const keyless = await policy('keyless.json', { default: [{ type: 'sigstoreSigned', fulcio: { caPath: '/x' } }] });
  failsWith(tsbuild(['verify', '--policy', keyless, ref]), /"fulcio" \(keyless signing\) is not supported/, 2);

  // A local image is signed at push time: sign refuses a name without a registry, saying so.
  failsWith(tsbuild(['sign', '--key', key, 'busybox:latest']), /sign takes a registry reference .*push --sign-by KEY busybox:latest/, 2);
});

test('the OCI 1.1 referrers API: distribution 2.8 has none (detected, skipped); where a registry answers it, the signature is also pushed as a referrer', async (t) => {
  const ref = `${reg.host}/bad/referrers:1`;
  assert.equal(tsbuild(['push', 'busybox:latest', ref]).code, 0);
  const client = new RegistryClient();
  t.after(() => client.close());
  const m = await client.source(ref).getManifest();
  assert.equal(await offersReferrers(client, parseReference(ref), m.digest), false);

  // A registry with the API: distribution behind a proxy that answers GET …/referrers/… with an (empty) index.
  const index = JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] });
  const proxy = await startFaultyProxy(reg.host, (req) => (req.method === 'GET' && /\/referrers\/sha256:/.test(req.url)
    ? { kind: 'status', status: 200, headers: { 'content-type': MediaTypes.ociIndex }, body: index } : undefined));
  t.after(() => proxy.stop());
  const viaProxy = `${proxy.host}/bad/referrers:1`;
  assert.equal(await offersReferrers(client, parseReference(viaProxy), m.digest), true);
  // The proxy runs in this process: the CLI must not block its event loop.
  const s = await runCliAsync(['--root', root, 'sign', '--key', key, viaProxy], { env: { ...process.env, TSBUILD_PASSWORD: PASSWORD } });
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /and as an OCI referrer/);
  const put = proxy.log.find((e) => e.method === 'PUT' && /\/manifests\/sha256:/.test(e.url) && e.status === 201);
  assert.ok(put, 'the referrer manifest was PUT by digest');
  const referrerDigest = put.url.slice(put.url.lastIndexOf('/') + 1);
  const referrer = await client.source(`${reg.host}/bad/referrers@${referrerDigest}`).getManifest();
  const doc = JSON.parse(Buffer.from(referrer.bytes).toString('utf8'));
  assert.equal(doc.artifactType, SIGNATURE_ARTIFACT_TYPE);
  assert.equal(doc.subject.digest, m.digest);
  assert.equal(doc.layers[0].mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
  assert.ok(doc.layers[0].annotations['dev.cosignproject.cosign/signature']);
  // The .sig tag is written all the same, and verifies (through the same registry name it was signed under).
  const v = await runCliAsync(['--root', root, 'verify', '--key', pub, viaProxy]);
  assert.equal(v.code, 0, v.stderr);
});
