/**
 * An npm tree (real package.json files from this repo's node_modules, top-level, scoped and nested, plus a
 * lockfile and two decoy package.json files that are no package) and a Python site-packages (fixtures/sbom:
 * real METADATA/PKG-INFO from Debian, dist-info, egg-info directories and a single-file egg-info) give exactly
 * their packages, with purls, declared licenses and the files that declared them; the Python list equals what
 * Python's importlib.metadata finds in the same directory. The documents validate against SPDX 2.3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom } from '../../../builder/attest/sbom/index.js';
import { repoRoot } from '../../helpers/paths.js';
import { spdxProblems } from '../../helpers/spdx-schema.js';
import { listed } from '../../helpers/sbom.js';

const NPM: readonly [string, string][] = [ // [source package in node_modules, where it goes in the fixture]
  ['ajv', 'app/node_modules/ajv'],
  ['@esbuild/linux-x64', 'app/node_modules/@esbuild/linux-x64'],
  ['fast-deep-equal', 'app/node_modules/ajv/node_modules/fast-deep-equal'],
  ['json-schema-traverse', 'app/node_modules/@esbuild/linux-x64/node_modules/json-schema-traverse'],
  ['semver', 'app/node_modules/semver'],
];

test('an npm tree lists exactly its installed packages, scoped and nested, merged with its lockfile', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-npm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const want = new Map<string, { version: string; license: string; files: string[] }>();
  const lock: Record<string, unknown> = { '': { name: 'app', version: '1.0.0' } };
  for (const [src, dest] of NPM) {
    const text = readFileSync(join(repoRoot(), 'node_modules', src, 'package.json'), 'utf8');
    const m = JSON.parse(text) as { name: string; version: string; license: string };
    mkdirSync(join(dir, dest), { recursive: true });
    writeFileSync(join(dir, dest, 'package.json'), text);
    lock[dest.slice('app/'.length)] = { version: m.version, license: m.license };
    want.set(m.name, { version: m.version, license: m.license, files: [`${dest}/package.json`, 'app/package-lock.json'].sort() });
  }
  writeFileSync(join(dir, 'app/package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { ajv: '*' } }));
  writeFileSync(join(dir, 'app/package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages: lock }));
  // Not packages: a sub-folder's module-type marker, and a test fixture's manifest inside a package.
  mkdirSync(join(dir, 'app/node_modules/ajv/dist/esm'), { recursive: true });
  writeFileSync(join(dir, 'app/node_modules/ajv/dist/esm/package.json'), '{"type":"module"}');
  mkdirSync(join(dir, 'app/node_modules/semver/test/fixture'), { recursive: true });
  writeFileSync(join(dir, 'app/node_modules/semver/test/fixture/package.json'), '{"name":"decoy","version":"9.9.9"}');

  const doc = await generateSbom({ layers: [dir], name: 'npm-fixture', kind: 'directory', created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);
  const got = listed(doc, 'npm');
  assert.deepEqual(new Set(got.map((p) => p.name)), new Set(want.keys()));
  for (const p of got) {
    const w = want.get(p.name)!;
    assert.equal(p.version, w.version, p.name);
    assert.equal(p.license, w.license, p.name);
    assert.deepEqual(p.files, w.files, p.name);
  }
  assert.equal(got.find((p) => p.name === '@esbuild/linux-x64')!.purl, `pkg:npm/%40esbuild/linux-x64@${want.get('@esbuild/linux-x64')!.version}`);
  assert.equal(got.find((p) => p.name === 'ajv')!.purl, `pkg:npm/ajv@${want.get('ajv')!.version}`);
  assert.equal(doc.packages.length, want.size + 1, 'the npm packages and the root, nothing else');
});

test('a site-packages lists exactly the distributions importlib.metadata finds, with their licenses', async () => {
  const site = join(repoRoot(), 'fixtures', 'sbom', 'site-packages');
  const doc = await generateSbom({ layers: [site], name: 'site-packages', kind: 'directory', created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);
  const got = listed(doc, 'pypi').map((p) => ({ name: p.name, version: p.version, purl: p.purl, license: p.license, files: p.files }));
  const oracle = execFileSync('python3', ['-c',
    'import importlib.metadata as m, sys\nfor d in m.distributions(path=[sys.argv[1]]): print(d.metadata["Name"], d.version)', site], { encoding: 'utf8' });
  assert.deepEqual(got.map((p) => `${p.name} ${p.version}`).sort(), oracle.trim().split('\n').sort());
  assert.deepEqual(got.sort((a, b) => (a.name < b.name ? -1 : 1)), [
    { name: 'PyYAML', version: '6.0', purl: 'pkg:pypi/pyyaml@6.0', license: 'MIT', files: ['PyYAML-6.0.dist-info/METADATA'] },
    { name: 'Pygments', version: '2.14.0', purl: 'pkg:pypi/pygments@2.14.0', license: 'BSD-2-Clause', files: ['Pygments-2.14.0.egg-info/PKG-INFO'] },
    { name: 'blinker', version: '1.5', purl: 'pkg:pypi/blinker@1.5', license: 'MIT', files: ['blinker-1.5.dist-info/METADATA'] },
    { name: 'pip', version: '23.0.1', purl: 'pkg:pypi/pip@23.0.1', license: 'MIT', files: ['pip-23.0.1.dist-info/METADATA'] },
    { name: 'python-apt', version: '2.6.0', purl: 'pkg:pypi/python-apt@2.6.0', license: 'LicenseRef-GNU-GPL', files: ['python_apt-2.6.0.egg-info'] },
    { name: 'six', version: '1.16.0', purl: 'pkg:pypi/six@1.16.0', license: 'MIT', files: ['six-1.16.0.egg-info/PKG-INFO'] },
  ]);
  const ref = doc.hasExtractedLicensingInfos?.find((l) => l.licenseId === 'LicenseRef-GNU-GPL');
  assert.equal(ref?.extractedText, 'GNU GPL');
});
