/**
 * On the Debian base (debootstrap minbase) with `apt-get install` of offline .debs in one RUN step and
 * `dpkg --purge` of one of them in the next, both run by the real build with runc, the SBOM of the image's
 * layer snapshots lists as Debian packages exactly what `dpkg-query -W` prints inside the image (name,
 * version, architecture), each with a deb purl for debian-12, evident by /var/lib/dpkg/status and CONTAINing
 * the files its .list names (hashes equal to sha256sum's inside the image); the OS release
 * is the operating-system package; the document validates against SPDX 2.3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom } from '../../../builder/attest/sbom/index.js';
import { debianBase } from '../../helpers/debian-base.js';
import { makeImageEnv } from '../../helpers/sbom-images.js';
import { spdxProblems } from '../../helpers/spdx-schema.js';
import { listed } from '../../helpers/sbom.js';

const base = debianBase();

test('the Debian packages of an image equal dpkg-query -W inside it', { skip: base ? false : 'npm run setup makes .tmp/debian (needs root and the mirror)' }, async (t) => {
  const env = await makeImageEnv(base!.tar, 'debian:bookworm');
  t.after(() => env.cleanup());
  const ctx = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-ctx-'));
  t.after(() => rmSync(ctx, { recursive: true, force: true }));
  cpSync(base!.debs, join(ctx, 'debs'), { recursive: true });
  await env.build(ctx, [
    'FROM debian:bookworm',
    'COPY debs/ /tmp/debs/',
    'RUN apt-get install -y /tmp/debs/*.deb && rm -rf /tmp/debs',
    'RUN dpkg --purge hello',
  ].join('\n'), 'sbom-debian:latest');

  const layers = await env.layers('sbom-debian:latest');
  assert.equal(layers.length, 4);
  const doc = await generateSbom({ layers, name: 'sbom-debian:latest', platform: { os: 'linux', architecture: 'amd64' }, created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);

  const inside = await env.run('sbom-debian:latest', ['dpkg-query', '-W', '-f', '${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n']);
  const want = inside.trim().split('\n').map((l) => l.split('\t'))
    .filter(([, , , status]) => status !== 'not-installed' && status !== 'config-files')
    .map(([name, version, arch]) => `${name} ${version} ${arch}`).sort();
  const debs = listed(doc, 'deb');
  const got = debs.map((p) => `${p.name} ${p.version} ${/[?&]arch=([^&]+)/.exec(p.purl!)?.[1]}`).sort();
  assert.deepEqual(got, want);
  assert.ok(got.some((l) => l.startsWith('jq ')) && !got.some((l) => l.startsWith('hello ')), 'jq installed, hello purged');
  for (const p of debs) {
    const prefix = `pkg:deb/debian/${encodeURIComponent(p.name)}@${p.version}?arch=`;
    assert.ok(p.purl!.startsWith(prefix) && /&distro=debian-12(&upstream=[^&]+)?$/.test(p.purl!), p.purl);
    assert.deepEqual(p.files, ['var/lib/dpkg/status']);
  }
  assert.equal(debs.find((p) => p.name === 'jq')!.license, 'MIT AND CC-BY-3.0 AND GPL-2.0-or-later', 'jq\'s copyright: MIT, CC-BY-3.0, Expat (MIT), GPL-2.0+');
  // CONTAINS: the files dpkg says jq installed, hashed as they are inside the image.
  const jq = debs.find((p) => p.name === 'jq')!;
  const fileOf = new Map(doc.files.map((f) => [f.SPDXID, f]));
  const owned = doc.relationships.filter((r) => r.spdxElementId === jq.pkg.SPDXID && r.relationshipType === 'CONTAINS').map((r) => fileOf.get(r.relatedSpdxElement)!);
  assert.ok(owned.some((f) => f.fileName === 'usr/bin/jq'), 'jq CONTAINS usr/bin/jq');
  const listedFiles = (await env.run('sbom-debian:latest', ['sh', '-c', 'for f in $(cat /var/lib/dpkg/info/jq.list); do [ -f "$f" ] && echo "${f#/}"; done'])).trim().split('\n').sort();
  assert.deepEqual(owned.map((f) => f.fileName).sort(), listedFiles);
  const sums = await env.run('sbom-debian:latest', ['sha256sum', ...listedFiles.map((f) => `/${f}`)]);
  for (const line of sums.trim().split('\n')) {
    const [sum, path] = line.split(/\s+/);
    assert.equal(owned.find((f) => `/${f.fileName}` === path)!.checksums.find((c) => c.algorithm === 'SHA256')!.checksumValue, sum, path);
  }
  const os = listed(doc, 'os');
  assert.deepEqual(os.map((p) => [p.name, p.version, p.files]), [['debian', '12', ['etc/os-release']]]);
  const root = doc.packages.find((p) => p.SPDXID === 'SPDXRef-DocumentRoot-Image-sbom-debian-latest')!;
  assert.equal(root.primaryPackagePurpose, 'CONTAINER');
  assert.ok(doc.relationships.some((r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES' && r.relatedSpdxElement === root.SPDXID));
});
