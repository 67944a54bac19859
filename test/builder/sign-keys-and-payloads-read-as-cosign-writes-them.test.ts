import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, scryptSync, sign } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import {
  generateKeyPair, identityMatches, makePayload, parsePayload, readPrivateKey, readPublicKey, signPayload, verifyPayload,
} from '../../builder/index.js';
import { TsbuildError, digestOf } from '../../layer-store/index.js';
import { parseReference } from '../../registry-client/index.js';

const pw = (s: string) => async () => Buffer.from(s);

/** A key file as today's cosign writes it (scrypt N=2^16), made here step by step from the envelope's definition. */
function cosignStyleKey(password: string, N: number, label = 'ENCRYPTED SIGSTORE PRIVATE KEY'): { pem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const k = scryptSync(Buffer.from(password), salt, 32, { N, r: 8, p: 1, maxmem: 512 * 1024 * 1024 });
  const body = JSON.stringify({
    kdf: { name: 'scrypt', params: { N, r: 8, p: 1 }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(xsalsa20poly1305(k, nonce).encrypt(der)).toString('base64'),
  });
  const b64 = Buffer.from(body).toString('base64').match(/.{1,64}/g)!.join('\n');
  return { pem: `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`, publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

test('keys: today\'s cosign envelope (N=2^16) and the older label read; tampered scrypt parameters and a wrong password are refused by name', async () => {
  const k = cosignStyleKey('pw', 65536);
  const key = await readPrivateKey(k.pem, 'today.key', pw('pw'));
  const payload = makePayload('example.com/app:1', digestOf('x'));
  assert.ok(verifyPayload(payload, signPayload(payload, key), readPublicKey(k.publicPem, 'today.pub')));
  const older = cosignStyleKey('pw', 32768, 'ENCRYPTED COSIGN PRIVATE KEY');
  await readPrivateKey(older.pem, 'older.key', pw('pw'));
  const greedy = cosignStyleKey('pw', 32768);
  const tampered = greedy.pem.replace(/-----\n([\s\S]*)\n-----END/, (_m, b: string) => {
    const j = JSON.parse(Buffer.from(b.replace(/\n/g, ''), 'base64').toString());
    j.kdf.params.N = 1 << 22;
    return `-----\n${Buffer.from(JSON.stringify(j)).toString('base64')}\n-----END`;
  });
  await assert.rejects(readPrivateKey(tampered, 'greedy.key', pw('pw')), (e: unknown) => TsbuildError.is(e) && /unsupported scrypt parameters N=4194304/.test(e.message) && JSON.stringify(e.location) === '{"ref":"greedy.key"}');
  await assert.rejects(readPrivateKey(k.pem, 'today.key', pw('nope')), /wrong password for the private key/);
  // The password is asked only for an encrypted key.
  const plain = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  await readPrivateKey(plain, 'plain.key', async () => { throw new Error('asked for a password'); });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  await assert.rejects(readPrivateKey(rsa, 'rsa.key', pw('')), /rsa keys are not supported/);
});

test('keys: what we write round-trips, and a signature checks only its own bytes with its own key', async () => {
  const pair = generateKeyPair(Buffer.from('secret'));
  const key = await readPrivateKey(pair.privatePem, 'k', pw('secret'));
  const pub = readPublicKey(pair.publicPem, 'p');
  const other = readPublicKey(generateKeyPair(Buffer.from('x')).publicPem, 'other');
  const payload = makePayload('example.com/app:1', digestOf('a'));
  const sig = signPayload(payload, key);
  assert.ok(verifyPayload(payload, sig, pub));
  assert.equal(verifyPayload(payload, sig, other), false);
  assert.equal(verifyPayload(Buffer.concat([payload, Buffer.from(' ')]), sig, pub), false);
  assert.equal(verifyPayload(payload, 'not base64!', pub), false);
  // An ASN.1 signature from node:crypto directly (as Go's ecdsa.SignASN1 makes) verifies too.
  assert.ok(verifyPayload(payload, sign('sha256', payload, key.key).toString('base64'), pub));
});

test('payloads: parsed as containers/image parses them (exact fields, cosign\'s type, optional may be null)', () => {
  const d = digestOf('m');
  const claims = parsePayload(makePayload('example.com/app:1', d), 'here');
  assert.equal(claims.manifestDigest, d);
  assert.equal(claims.dockerReference, 'example.com/app:1');
  const cosign = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'example.com/app' }, image: { 'docker-manifest-digest': d }, type: 'cosign container image signature' }, optional: null }));
  assert.equal(parsePayload(cosign, 'here').optional, null);
  const extra = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'x' }, image: { 'docker-manifest-digest': d }, type: 'cosign container image signature', extra: 1 }, optional: {} }));
  assert.throws(() => parsePayload(extra, 'here'), /critical has fields extra, identity, image, type/);
  const atomic = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'x' }, image: { 'docker-manifest-digest': d }, type: 'atomic container signature' }, optional: {} }));
  assert.throws(() => parsePayload(atomic, 'here'), /type is "atomic container signature"/);
});

test('signedIdentity rules behave as containers/image\'s', () => {
  const byTag = parseReference('example.com/ns/app:1');
  const byDigest = parseReference(`example.com/ns/app@${digestOf('m')}`);
  assert.ok(identityMatches({ type: 'matchRepoDigestOrExact' }, byTag, 'example.com/ns/app:1'));
  assert.equal(identityMatches({ type: 'matchRepoDigestOrExact' }, byTag, 'example.com/ns/app:2'), false);
  assert.equal(identityMatches({ type: 'matchRepoDigestOrExact' }, byTag, 'example.com/ns/app'), false, 'a name-only claim is not exact');
  assert.ok(identityMatches({ type: 'matchRepoDigestOrExact' }, byDigest, 'example.com/ns/app:anything'));
  assert.ok(identityMatches({ type: 'matchRepository' }, byTag, 'example.com/ns/app'));
  assert.equal(identityMatches({ type: 'matchRepository' }, byTag, 'example.com/ns/other:1'), false);
  assert.equal(identityMatches({ type: 'matchExact' }, byDigest, 'example.com/ns/app:1'), false);
  assert.ok(identityMatches({ type: 'exactRepository', dockerRepository: 'example.com/ns/app' }, parseReference('mirror.local/app:1'), 'example.com/ns/app:7'));
  assert.ok(identityMatches({ type: 'remapIdentity', prefix: 'mirror.local/ns', signedPrefix: 'example.com/ns' }, parseReference('mirror.local/ns/app:1'), 'example.com/ns/app:1'));
  assert.ok(identityMatches({ type: 'matchRepoDigestOrExact' }, parseReference('busybox'), 'docker.io/library/busybox:latest'), 'Docker Hub names are normalised');
});
