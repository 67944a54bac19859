/**
 * Two processes tag 25 names each in the same store at the same time; index.json keeps all 50.
 * The test file re-runs itself as the child (TSBUILD_TAG_CHILD set), so it works under tsx and compiled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LayerStore, MediaTypes, buildConfig, buildManifest, encodeDocument } from '../../layer-store/index.js';

const N = 25;

async function child(root: string, prefix: string): Promise<void> {
  const store = await LayerStore.open(root);
  const [e] = await store.listImages();
  if (!e) throw new Error('no image');
  for (let i = 0; i < N; i++) await store.tag(`${prefix}-${i}`, e.descriptor);
}

if (process.env['TSBUILD_TAG_CHILD']) {
  const [root, prefix] = process.env['TSBUILD_TAG_CHILD'].split('|');
  await child(root!, prefix!);
} else {
  test('concurrent tagging from two processes loses no write', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const store = await LayerStore.open(root);
    const cfg = encodeDocument(buildConfig({ diffIds: [], created: '2024-01-01T00:00:00Z' }), MediaTypes.ociConfig);
    const config = await store.putBytes(cfg.bytes, cfg.descriptor);
    const man = encodeDocument({ ...buildManifest(config, []) }, MediaTypes.ociManifest);
    const desc = await store.putBytes(man.bytes, man.descriptor);
    await store.tag('seed', desc);
    const self = fileURLToPath(import.meta.url);
    const run = (prefix: string) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, [...process.execArgv, self], { env: { ...process.env, TSBUILD_TAG_CHILD: `${root}|${prefix}` }, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (b: Buffer) => (err += b.toString()));
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${prefix} exited ${code}: ${err}`))));
      });
    await Promise.all([run('alpha'), run('beta')]);
    const names = (await store.listImages()).flatMap((e) => e.names);
    for (const p of ['alpha', 'beta']) for (let i = 0; i < N; i++) assert.ok(names.includes(`docker.io/library/${p}-${i}:latest`), `${p}-${i} lost`);
    assert.equal(names.length, 2 * N + 1);
  });
}
