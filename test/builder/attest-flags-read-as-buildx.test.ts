import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAttest, imagePurl, parseAttestFlags } from '../../builder/index.js';

test('--provenance/--sbom are buildx\'s shorthands: Go booleans become disabled=, anything else is appended to type=', () => {
  assert.equal(canonicalAttest('provenance', 'true'), 'type=provenance,disabled=false');
  assert.equal(canonicalAttest('provenance', '0'), 'type=provenance,disabled=true');
  assert.equal(canonicalAttest('sbom', 'scan-context=true'), 'type=sbom,scan-context=true');
  assert.deepEqual(parseAttestFlags({ provenance: 'true' }), { provenance: { mode: 'max' } }, 'explicit provenance is mode=max (BuildKit\'s default)');
  assert.deepEqual(parseAttestFlags({ provenance: '' }), { provenance: { mode: 'max' } }, 'a bare --provenance is true');
  assert.deepEqual(parseAttestFlags({ provenance: '1' }), { provenance: { mode: 'max' } });
  assert.deepEqual(parseAttestFlags({ provenance: 'mode=full' }), { provenance: { mode: 'max' } });
  assert.deepEqual(parseAttestFlags({ provenance: 'false' }), { provenance: false });
  assert.deepEqual(parseAttestFlags({ sbom: 'true' }), { sbom: {} });
  assert.deepEqual(parseAttestFlags({}), {});
});

test('the shorthands come after --attest and the last value of a type wins; disabled=true turns a type off', () => {
  assert.deepEqual(parseAttestFlags({ attest: ['type=provenance,mode=max'], provenance: 'mode=min' }), { provenance: { mode: 'min' } });
  assert.deepEqual(parseAttestFlags({ attest: ['type=provenance,mode=min', 'type=provenance,disabled=true'] }), { provenance: false });
  assert.deepEqual(parseAttestFlags({ attest: ['type=sbom,scan-stage=true,"scan-context=true"', 'type=provenance,builder-id=https://ci.example/1,reproducible=true'] }), {
    sbom: { scanStage: true, scanContext: true }, provenance: { mode: 'max', builderId: 'https://ci.example/1', reproducible: true },
  });
  assert.deepEqual(parseAttestFlags({ sbom: 'generator=docker/buildkit-syft-scanner:stable-1' }), { sbom: {} }, 'BuildKit\'s own scanner stands for tsbuild\'s');
  assert.deepEqual(parseAttestFlags({ noDefaultAttestations: '1' }), { defaultProvenance: false });
  assert.deepEqual(parseAttestFlags({ noDefaultAttestations: 'false' }), {});
});

test('unknown types, attributes, versions, booleans and generator images are usage errors naming them', () => {
  const cases: [Parameters<typeof parseAttestFlags>[0], RegExp][] = [
    [{ attest: ['type=vex'] }, /unknown attestation type "vex"/],
    [{ attest: ['type=sbom,depth=2'] }, /unknown sbom attribute "depth"/],
    [{ attest: ['type=provenance,version=v0.2'] }, /provenance version "v0.2" is not supported/],
    [{ attest: ['type=provenance,reproducible=yes'] }, /reproducible=yes: not a boolean/],
    [{ attest: ['type=provenance,novalue'] }, /invalid value novalue/],
    [{ sbom: 'generator=ghcr.io/me/scanner' }, /cannot run SBOM generator image ghcr.io\/me\/scanner/],
    [{ noDefaultAttestations: 'maybe' }, /invalid BUILDX_NO_DEFAULT_ATTESTATIONS/],
  ];
  for (const [flags, re] of cases) {
    assert.throws(() => parseAttestFlags(flags), (e: Error & { code?: string }) => e.code === 'USAGE' && re.test(e.message), JSON.stringify(flags));
  }
});

test('image PURLs are BuildKit\'s RefToPURL: familiar name, tag as version, digest and platform qualifiers', () => {
  assert.equal(imagePurl('alpine'), 'pkg:docker/alpine@latest');
  assert.equal(imagePurl('docker.io/library/alpine:3.15', { os: 'linux', architecture: 'arm64', variant: 'v8' }), 'pkg:docker/alpine@3.15?platform=linux%2Farm64%2Fv8');
  assert.equal(imagePurl('user/test:v2'), 'pkg:docker/user/test@v2');
  assert.equal(imagePurl('ghcr.io/foo/bar'), 'pkg:docker/ghcr.io/foo/bar@latest');
  assert.equal(imagePurl('localhost:5000/app:1', { os: 'linux', architecture: 'amd64' }), 'pkg:docker/localhost:5000/app@1?platform=linux%2Famd64');
  const d = 'sha256:' + 'a'.repeat(64);
  assert.equal(imagePurl(`alpine@${d}`), `pkg:docker/alpine?digest=${d}`);
  assert.equal(imagePurl(`alpine:3@${d}`), `pkg:docker/alpine@3?digest=${d}`);
});
