/**
 * A rootless build on a real distribution base gives root's layer digests (issue 20): the Debian bookworm
 * minbase that setup makes (.tmp/debian, test/helpers/debian-base.ts; files of root and of service users and
 * groups) is imported by root and by an unprivileged user, and the same Dockerfile `apt-get install`s offline
 * .debs (hello, jq and its libraries) in a RUN as each. The logs that carry the wall-clock time are removed in
 * the step, since they differ between any two builds, root or not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianBase } from '../helpers/debian-base.js';
import { layerDigests, makeRootlessUser, ok, rootlessSkip, tsbuildAsRoot, type RootlessUser } from '../helpers/rootless-user.js';

const base = debianBase();
const skip = rootlessSkip() || (base ? false : 'no Debian base (npm run setup makes .tmp/debian)');
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

const DOCKERFILE = `FROM debian-base
COPY debs /tmp/debs
RUN cd /tmp/debs && apt-get install -y ./*.deb && cd / \\
 && rm -rf /tmp/debs /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/apt/*.bin /var/cache/ldconfig/aux-cache \\
 && hello && jq --version
`;

describe('rootless build on a Debian base with apt-get install', { skip }, () => {
  let user: RootlessUser;
  let work = '';
  let rootStore = '';
  let ctx = '';

  before(async () => {
    user = await makeRootlessUser();
    work = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-debian-'));
    chmodSync(work, 0o755);
    rootStore = join(work, 'root-store');
    ctx = join(work, 'ctx');
    mkdirSync(join(ctx, 'debs'), { recursive: true });
    for (const f of base!.debFiles) copyFileSync(join(base!.debs, f), join(ctx, 'debs', f));
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    const tar = join(user.home, 'debian.tar');
    copyFileSync(base!.tar, tar);
    await user.give(ctx);
    await user.give(tar);
    ok(await user.tsbuild(['import', tar, 'debian-base:latest'], { env: EPOCH }), 'rootless import');
    await tsbuildAsRoot(rootStore, ['import', tar, 'debian-base:latest'], EPOCH);
  });

  after(async () => {
    await user?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs the packages as the user, with the same layer digests as root', async () => {
    const r = await user.tsbuild(['build', '--progress', 'plain', '-t', 'deb-app', ctx], { env: EPOCH });
    ok(r, 'rootless build');
    assert.match(r.stdout + r.stderr, /Hello, world!/);
    await tsbuildAsRoot(rootStore, ['build', '--progress', 'quiet', '-t', 'deb-app', ctx], EPOCH);
    const rootless = await layerDigests(user.store, 'deb-app:latest');
    assert.equal(rootless.length, 3);
    assert.deepEqual(rootless, await layerDigests(rootStore, 'deb-app:latest'));
  });
});
