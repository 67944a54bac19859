/**
 * Whiteouts: a package deleted in an upper layer is not listed. Built for real (busybox base, runc): a RUN that
 * removes an npm package and a Python distribution leaves overlay whiteouts (0/0 character devices) in its
 * layer snapshot, and a RUN that removes a scope directory and makes it again leaves an opaque directory
 * (trusted.overlay.opaque=y) hiding everything below it in lower layers. Unpacked as plain OCI files, a
 * `.wh.NAME` entry and a `.wh..wh..opq` marker hide them the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom } from '../../../builder/attest/sbom/index.js';
import { busyboxTar } from '../../helpers/build-env.js';
import { makeImageEnv } from '../../helpers/sbom-images.js';
import { repoRoot } from '../../helpers/paths.js';
import { spdxProblems } from '../../helpers/spdx-schema.js';
import { listed } from '../../helpers/sbom.js';

const SITE = join(repoRoot(), 'fixtures', 'sbom', 'site-packages');
const PYTHON_ALL = ['PyYAML', 'Pygments', 'blinker', 'pip', 'python-apt', 'six'];

function copyManifest(from: string, to: string): string {
  const text = readFileSync(join(repoRoot(), 'node_modules', from, 'package.json'), 'utf8');
  mkdirSync(to, { recursive: true });
  writeFileSync(join(to, 'package.json'), text);
  return (JSON.parse(text) as { name: string }).name;
}

test('packages removed by a later RUN (whiteouts, an opaque directory) are not listed', async (t) => {
  const bb = await busyboxTar();
  t.after(() => bb.cleanup());
  const env = await makeImageEnv(bb.tar, 'busybox:latest');
  t.after(() => env.cleanup());
  const ctx = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-ctx-'));
  t.after(() => rmSync(ctx, { recursive: true, force: true }));
  const nm = join(ctx, 'app', 'node_modules');
  copyManifest('ajv', join(nm, 'ajv'));
  copyManifest('fast-deep-equal', join(nm, 'ajv', 'node_modules', 'fast-deep-equal'));
  copyManifest('semver', join(nm, 'semver'));
  copyManifest('@esbuild/linux-x64', join(nm, '@esbuild', 'linux-x64'));
  copyManifest('json-schema-traverse', join(nm, '@esbuild', 'linux-x64', 'node_modules', 'json-schema-traverse'));
  cpSync(SITE, join(ctx, 'site'), { recursive: true });
  await env.build(ctx, [
    'FROM busybox:latest',
    'COPY app/ /app/',
    'COPY site/ /usr/lib/python3/site-packages/',
    'RUN rm -rf /app/node_modules/semver /usr/lib/python3/site-packages/six-1.16.0.egg-info',
    `RUN rm -rf /app/node_modules/@esbuild && mkdir -p /app/node_modules/@esbuild/linux-x64 && echo '{"name":"@esbuild/linux-x64","version":"0.0.1"}' > /app/node_modules/@esbuild/linux-x64/package.json`,
  ].join('\n'), 'sbom-whiteouts:latest');

  const layers = await env.layers('sbom-whiteouts:latest');
  assert.equal(layers.length, 5);
  // The layers hold what this test is about: overlay whiteouts and an opaque directory.
  const wh = lstatSync(join(layers[3]!, 'app/node_modules/semver'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'semver is an overlay whiteout in the RUN layer');
  const opaque = execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(layers[4]!, 'app/node_modules/@esbuild')], { encoding: 'utf8' });
  assert.equal(opaque, 'y');

  const before = await generateSbom({ layers: layers.slice(0, 3), name: 'before', created: new Date(0) });
  assert.deepEqual(listed(before, 'npm').map((p) => `${p.name}`).sort(), ['@esbuild/linux-x64', 'ajv', 'fast-deep-equal', 'json-schema-traverse', 'semver']);
  assert.deepEqual(listed(before, 'pypi').map((p) => p.name).sort(), PYTHON_ALL);

  const doc = await generateSbom({ layers, name: 'sbom-whiteouts:latest', created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);
  assert.deepEqual(listed(doc, 'npm').map((p) => `${p.name}@${p.version}`).sort(),
    ['@esbuild/linux-x64@0.0.1', `ajv@${version('ajv')}`, `fast-deep-equal@${version('fast-deep-equal')}`]);
  assert.deepEqual(listed(doc, 'pypi').map((p) => p.name).sort(), PYTHON_ALL.filter((n) => n !== 'six'));
});

test('OCI whiteout files (.wh.NAME, .wh..wh..opq) in plain layer dirs hide what they delete', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-wh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lower = join(dir, 'lower', 'usr/lib/python3/site-packages');
  cpSync(SITE, lower, { recursive: true });
  const upper = join(dir, 'upper', 'usr/lib/python3/site-packages');
  mkdirSync(join(upper, 'pip-23.0.1.dist-info'), { recursive: true });
  writeFileSync(join(upper, '.wh.six-1.16.0.egg-info'), '');
  writeFileSync(join(upper, 'pip-23.0.1.dist-info', '.wh..wh..opq'), '');
  writeFileSync(join(upper, 'pip-23.0.1.dist-info', 'RECORD'), '');
  const doc = await generateSbom({ layers: [join(dir, 'lower'), join(dir, 'upper')], name: 'oci-whiteouts', created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);
  assert.deepEqual(listed(doc, 'pypi').map((p) => p.name).sort(), PYTHON_ALL.filter((n) => n !== 'six' && n !== 'pip'));
  const lowerOnly = await generateSbom({ layers: [join(dir, 'lower')], name: 'lower', created: new Date(0) });
  assert.deepEqual(listed(lowerOnly, 'pypi').map((p) => p.name).sort(), PYTHON_ALL);
});

function version(pkg: string): string {
  return (JSON.parse(readFileSync(join(repoRoot(), 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}
