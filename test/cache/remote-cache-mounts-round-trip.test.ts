/**
 * Cache mounts travel with mode=max: a RUN --mount=type=cache directory exported to a real registry is restored
 * identically (files, dirs, symlinks, modes, owners, the root's mode) into `<root>/cache-mounts/<hash of id>` on an
 * empty runner; an existing directory is left alone; mode=min exports no mounts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheMountDirName, exportCache, importCache } from '../../cache/index.js';
import { digestOf } from '../../layer-store/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { makeFixture, tempDir, treeListing } from './remote-fixture.js';

test('mode=max exports cache mounts and restoreMounts brings them back identically on an empty root', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const fx = await makeFixture();
  t.after(fx.cleanup);
  const client = new RegistryClient();
  t.after(() => client.close());

  // The builder's naming: <root>/cache-mounts/<sha256(id) hex, first 32>.
  assert.equal(cacheMountDirName('npm'), digestOf('npm').slice(7, 39));
  const src = await tempDir('tsbuild-remote-cache-mounts-src-');
  t.after(src.cleanup);
  const npmDir = join(src.dir, cacheMountDirName('npm'));
  await mkdir(join(npmDir, '_cacache', 'index-v5', 'ab'), { recursive: true });
  await writeFile(join(npmDir, '_cacache', 'index-v5', 'ab', 'entry'), 'x'.repeat(5000));
  await writeFile(join(npmDir, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(npmDir, 'run.sh'), 0o755);
  await symlink('_cacache/index-v5', join(npmDir, 'idx'));
  await writeFile(join(npmDir, 'owned'), 'by 1000');
  await chown(join(npmDir, 'owned'), 1000, 1000);
  await chmod(npmDir, 0o775);
  await chown(npmDir, 1000, 1000);
  const aptDir = join(src.dir, cacheMountDirName('/var/cache/apt'));
  await mkdir(aptDir);
  await writeFile(join(aptDir, 'pkgcache.bin'), Buffer.alloc(20_000, 7));
  const mounts = [{ id: 'npm', dir: npmDir }, { id: '/var/cache/apt', dir: aptDir }, { id: 'never-used', dir: join(src.dir, 'absent') }];

  const ref = `${reg.host}/ci/cache:max`;
  await exportCache(fx.records, fx.store, client.destination(parseReference(ref)), { mode: 'max', cacheMounts: mounts });

  const runner = await tempDir('tsbuild-remote-cache-runner-');
  t.after(runner.cleanup);
  const target = join(runner.dir, 'cache-mounts');
  const remote = await importCache(client.source(parseReference(ref)));
  t.after(() => remote.close());
  assert.deepEqual(remote.mounts.map((m) => m.id).sort(), ['/var/cache/apt', 'npm']);
  // The apt cache already exists on this runner: it must be left alone.
  await mkdir(join(target, cacheMountDirName('/var/cache/apt')), { recursive: true });
  await writeFile(join(target, cacheMountDirName('/var/cache/apt'), 'local'), 'mine');

  const restored = await remote.restoreMounts(target);
  assert.deepEqual(restored, [{ id: 'npm', dir: join(target, cacheMountDirName('npm')) }]);
  assert.deepEqual(await treeListing(join(target, cacheMountDirName('npm'))), await treeListing(npmDir));
  const root = await treeListing(join(target, '..'));
  assert.match(root[`cache-mounts/${cacheMountDirName('npm')}`]!, /^dir 775 1000:1000$/);
  assert.deepEqual(await readdir(join(target, cacheMountDirName('/var/cache/apt'))), ['local']);
  assert.deepEqual((await readdir(target)).sort(), [cacheMountDirName('/var/cache/apt'), cacheMountDirName('npm')].sort(), 'no temp dirs left');
  // Second run: everything exists, nothing restored.
  assert.deepEqual(await remote.restoreMounts(target), []);

  // mode=min carries no mounts.
  const minRef = `${reg.host}/ci/cache:min`;
  await exportCache(fx.records, fx.store, client.destination(parseReference(minRef)), { mode: 'min', cacheMounts: mounts });
  const min = await importCache(client.source(parseReference(minRef)));
  t.after(() => min.close());
  assert.deepEqual(min.mounts, []);
});
