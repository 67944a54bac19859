import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayerStore, loadArchive, saveImages } from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';

const run = promisify(execFile);
const PODMAN = ['/usr/bin/podman'].find((p) => existsSync(p));

test('save --format docker writes a docker-archive that skopeo, GNU tar and podman load accept; load reads it back', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-archive-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });
  const store = await LayerStore.open(join(base, 'a'));
  const img = await makeTestImage(store, 'dock:1', [{ 'etc/': '', 'etc/motd': 'hello\n' }, { 'app/': '', 'app/run': '#!/bin/sh\n' }], { dir: base });
  const file = join(base, 'dock.tar');
  await saveImages(store, ['dock:1'], file, { format: 'docker' });

  const { stdout: listing } = await run('tar', ['-tf', file]);
  const names = listing.split('\n');
  assert.ok(names.includes('manifest.json') && names.includes('repositories') && names.includes(`${img.config.digest.slice(7)}.json`));
  for (const d of img.diffIds) {
    assert.ok(names.includes(`${d.slice(7)}/layer.tar`));
    // layers are uncompressed tars, as docker save writes them; GNU tar lists them
    const { stdout: inner } = await run('sh', ['-c', `tar -xOf ${file} ${d.slice(7)}/layer.tar | tar -tf -`]);
    assert.ok(inner.length > 0);
  }
  const { stdout: m } = await run('tar', ['-xOf', file, 'manifest.json']);
  assert.deepEqual(JSON.parse(m)[0].RepoTags, ['docker.io/library/dock:1']);

  const { stdout } = await run('skopeo', ['inspect', '--config', `docker-archive:${file}`]);
  assert.deepEqual(JSON.parse(stdout).rootfs.diff_ids, img.diffIds);

  if (PODMAN) {
    const pr = join(base, 'podman');
    const common = ['--root', join(pr, 'root'), '--runroot', join(pr, 'run'), '--storage-driver', 'vfs'];
    cleanups.push(() => run(PODMAN, [...common, 'system', 'reset', '-f']));
    const { stdout: loaded } = await run(PODMAN, [...common, 'load', '-i', file], { env: { ...process.env, TMPDIR: base } });
    assert.match(loaded, /Loaded image: docker\.io\/library\/dock:1/);
    const { stdout: ins } = await run(PODMAN, [...common, 'image', 'inspect', 'docker.io/library/dock:1']);
    assert.equal(JSON.parse(ins)[0].Id, img.config.digest.slice(7), 'podman computes the same image ID');
  } else {
    t.diagnostic('podman not installed: docker-archive checked with skopeo only');
  }

  const store2 = await LayerStore.open(join(base, 'b'));
  const r = await loadArchive(store2, file);
  assert.equal(r.format, 'docker');
  const got = await store2.image('dock:1');
  assert.equal(got.id, img.config.digest, 'same config, so same image ID');
  assert.deepEqual(got.config.rootfs.diff_ids, img.diffIds);
  await validateStoredImage(store2, got.descriptor);
});
