/**
 * The README's Quick start, run unchanged by an unprivileged user (issue 20): the first command line of its `sh`
 * block (`npm run setup && npm run demo`), taken from README.md itself, in a copy of the checkout the user owns
 * (the demo writes .tmp/demo-root, and setup builds dist/, into the checkout; a clone has no dist/, so neither has the copy). Root has installed the packages
 * (setup's apt-get part); as the user, setup installs nothing, builds, and the demo imports busybox, builds
 * fixtures/hello and runs it rootless.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { makeRootlessUser, rootlessSkip, type RootlessUser } from '../helpers/rootless-user.js';

const run = promisify(execFile);
const skip = rootlessSkip();

/** The first command of the README's Quick start block, without its comment. */
function quickStartLine(): string {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([^]*?)```/.exec(section);
  assert.ok(block, 'no sh block in the Quick start section');
  return block[1]!.split('\n')[0]!.replace(/#.*$/, '').trim();
}

describe('README Quick start as an unprivileged user', { skip }, () => {
  let user: RootlessUser;
  let checkout = '';

  before(async () => {
    user = await makeRootlessUser();
    checkout = join(user.home, 'tsbuild');
    // The checkout as a clone would have it (no .git, .tmp or dist), mtimes kept so setup sees node_modules current.
    await run('sh', ['-c', 'mkdir "$2" && tar -C "$1" --exclude=./.git --exclude=./.tmp --exclude=./dist -cf - . | tar -C "$2" -xpf -', 'sh', repoRoot(), checkout]);
    await user.give(checkout);
  });

  after(async () => {
    await user?.cleanup();
  });

  it('runs `npm run setup && npm run demo` as written, and the demo image prints its greeting', { timeout: 600_000 }, async () => {
    const line = quickStartLine();
    assert.equal(line, 'npm run setup && npm run demo');
    const r = await user.exec('sh', ['-c', line], { cwd: checkout });
    assert.equal(r.code, 0, `${line} failed as ${user.name}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^hello from tsbuild$/m, r.stdout);
    // Built in the user namespace, where the user is root: RUN's `id -un` says root, as it does for root.
    assert.match(r.stdout, /^built on \S+ as root$/m, r.stdout);
    assert.ok(existsSync(join(checkout, '.tmp', 'demo-root', 'index.json')), 'the demo store is not in the user copy');
  });

  it('leaves no process of the user running and nothing mounted', async () => {
    const ps = await run('ps', ['-o', 'pid=,stat=,args=', '-u', String(user.uid)]).then((r) => r.stdout, () => '');
    assert.deepEqual(ps.split('\n').filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l)), []);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(user.home), 'a mount under the user home is left');
  });
});
