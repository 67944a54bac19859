/**
 * A rootless build gives the same layer digests as a root build (issue 20): every fixture of
 * fixtures/equivalence (the BuildKit-equivalence corpus: COPY/ADD corners, USER switches, whiteouts,
 * hardlinks, special permissions, …) is built with SOURCE_DATE_EPOCH=0 by root into one store and by an
 * unprivileged user into its own, and the two images' layer lists must be equal, digest for digest.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { layerDigests, makeRootlessUser, ok, rootlessSkip, tsbuildAsRoot, type RootlessUser } from '../helpers/rootless-user.js';
import { listFixtures, prepareContext } from '../equivalence/describe.js';

const run = promisify(execFile);
const skip = rootlessSkip();
const EPOCH = { SOURCE_DATE_EPOCH: '0' };
const FIXTURES = join(repoRoot(), 'fixtures', 'equivalence');

describe('rootless builds of the equivalence fixtures match root builds', { skip }, () => {
  let user: RootlessUser;
  let work = '';
  let rootStore = '';

  before(async () => {
    user = await makeRootlessUser();
    work = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-eq-'));
    chmodSync(work, 0o755);
    rootStore = join(work, 'root-store');
    // The same base as the equivalence test: make-busybox-rootfs.sh with SOURCE_DATE_EPOCH=0.
    await run('sh', [join(repoRoot(), 'fixtures/scripts/make-busybox-rootfs.sh'), join(work, 'rootfs'), '-o', join(work, 'busybox.tar')], {
      env: { ...process.env, ...EPOCH },
    });
    const tar = join(user.home, 'busybox.tar');
    copyFileSync(join(work, 'busybox.tar'), tar);
    await user.give(tar);
    ok(await user.tsbuild(['import', tar, 'busybox:latest'], { env: EPOCH }), 'rootless import');
    await tsbuildAsRoot(rootStore, ['import', tar, 'busybox:latest'], EPOCH);
  });

  after(async () => {
    await user?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const name of listFixtures(FIXTURES)) {
    it(name, async () => {
      const ctx = join(work, 'ctx', name);
      prepareContext(join(FIXTURES, name), ctx);
      await user.give(ctx);
      const ref = `eq-${name}:latest`;
      ok(await user.tsbuild(['build', '--progress', 'plain', '-t', ref, ctx], { env: EPOCH }), `rootless build of ${name}`);
      await tsbuildAsRoot(rootStore, ['build', '--progress', 'quiet', '-t', ref, ctx], EPOCH);
      assert.deepEqual(await layerDigests(user.store, ref), await layerDigests(rootStore, ref));
    });
  }
});
