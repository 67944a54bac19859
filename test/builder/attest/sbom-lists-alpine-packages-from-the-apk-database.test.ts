/**
 * Alpine: /lib/apk/db/installed (apk's own format: `X:value` lines, a blank line between packages, the file
 * lists F:/R: after the package's fields) gives each package with its apk purl (arch, distro from
 * /etc/os-release, upstream from the origin), its declared license as an SPDX expression (apk's old free-form
 * `MIT BSD GPL2+` as a LicenseRef), evident by the database. The same input gives the same document, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom } from '../../../builder/attest/sbom/index.js';
import { spdxProblems } from '../../helpers/spdx-schema.js';
import { listed } from '../../helpers/sbom.js';

const INSTALLED = [
  ['C:Q1z1', 'P:musl', 'V:1.2.2-r3', 'A:x86_64', 'S:383152', 'I:622592', 'T:the musl c library (libc) implementation',
    'U:https://musl.libc.org/', 'L:MIT', 'o:musl', 'm:Timo Teräs <timo.teras@iki.fi>', 'F:lib', 'R:libc.musl-x86_64.so.1', 'a:0:0:777', 'Z:Q1abc='],
  ['C:Q1z2', 'P:musl-utils', 'V:1.2.2-r3', 'A:x86_64', 'T:the musl c library (libc) implementation', 'L:MIT BSD GPL2+', 'o:musl',
    'D:scanelf so:libc.musl-x86_64.so.1', 'F:usr/bin', 'R:ldd'],
  ['C:Q1z3', 'P:libretls', 'V:3.3.3-r2', 'A:x86_64', 'L:ISC AND (BSD-3-Clause OR MIT)', 'o:libretls', 'F:usr/lib', 'R:libtls.so.2'],
].map((p) => p.join('\n')).join('\n\n') + '\n\n';

test('an Alpine image lists the packages of its apk database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-apk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'lib/apk/db'), { recursive: true });
  mkdirSync(join(dir, 'usr/lib'), { recursive: true });
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'lib/apk/db/installed'), INSTALLED);
  writeFileSync(join(dir, 'usr/lib/os-release'), 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.14.2\nPRETTY_NAME="Alpine Linux v3.14"\n');
  symlinkSync('../usr/lib/os-release', join(dir, 'etc/os-release'));
  mkdirSync(join(dir, 'usr/bin'));
  writeFileSync(join(dir, 'usr/bin/ldd'), '#!/bin/sh\nexec /lib/ld-musl-x86_64.so.1 --list "$@"\n');

  const doc = await generateSbom({ layers: [dir], name: 'alpine:3.14', created: new Date('2024-01-02T03:04:05Z') });
  assert.deepEqual(spdxProblems(doc), []);
  assert.deepEqual(listed(doc, 'apk').map((p) => [p.name, p.version, p.purl, p.license, p.files]), [
    ['libretls', '3.3.3-r2', 'pkg:apk/alpine/libretls@3.3.3-r2?arch=x86_64&distro=alpine-3.14.2&upstream=libretls', 'ISC AND (BSD-3-Clause OR MIT)', ['lib/apk/db/installed']],
    ['musl', '1.2.2-r3', 'pkg:apk/alpine/musl@1.2.2-r3?arch=x86_64&distro=alpine-3.14.2&upstream=musl', 'MIT', ['lib/apk/db/installed']],
    ['musl-utils', '1.2.2-r3', 'pkg:apk/alpine/musl-utils@1.2.2-r3?arch=x86_64&distro=alpine-3.14.2&upstream=musl', 'LicenseRef-MIT-BSD-GPL2', ['lib/apk/db/installed']],
  ]);
  assert.deepEqual(doc.hasExtractedLicensingInfos, [{ licenseId: 'LicenseRef-MIT-BSD-GPL2', extractedText: 'MIT BSD GPL2+', name: 'MIT BSD GPL2+' }]);
  assert.equal(listed(doc, 'apk').find((p) => p.name === 'musl')!.pkg.supplier, 'Person: Timo Teräs (timo.teras@iki.fi)');
  assert.deepEqual(listed(doc, 'os').map((p) => [p.name, p.version, p.files]), [['alpine', '3.14.2', ['etc/os-release']]]);
  const ids = new Map(doc.files.map((f) => [f.SPDXID, f.fileName]));
  const contains = doc.relationships.filter((r) => r.relationshipType === 'CONTAINS' && r.spdxElementId.startsWith('SPDXRef-Package-'))
    .map((r) => `${doc.packages.find((p) => p.SPDXID === r.spdxElementId)!.name} ${ids.get(r.relatedSpdxElement)}`);
  assert.deepEqual(contains, ['musl-utils usr/bin/ldd'], 'R: files that exist (lib/libc.musl… and libtls.so.2 are not there)');
  assert.equal(doc.creationInfo.created, '2024-01-02T03:04:05Z');
  assert.match(doc.creationInfo.creators.find((c) => c.startsWith('Tool: '))!, /^Tool: tsbuild-\d+\.\d+\.\d+/);

  const again = await generateSbom({ layers: [dir], name: 'alpine:3.14', created: new Date('2024-01-02T03:04:05Z') });
  assert.equal(JSON.stringify(again), JSON.stringify(doc), 'reproducible');
  const other = await generateSbom({ layers: [dir], name: 'alpine:3.14', created: new Date('2024-01-02T03:04:06Z') });
  assert.notEqual(other.documentNamespace, doc.documentNamespace, 'another document, another namespace');
});
