/**
 * `--isolation chroot` makes the same image as the default runc + overlay build: every fixture of
 * fixtures/equivalence is built in both modes (separate stores, SOURCE_DATE_EPOCH=0) and the manifest digests
 * (so every compressed layer digest, and the config with its diff IDs) must be equal.
 *
 * Then the locked-down container, simulated for real: the chroot builds run again without CAP_SYS_ADMIN
 * (`setpriv --bounding-set=-sys_admin`: no mount, no unshare, no trusted.* xattr), where an oci build must fail.
 * They still give the same digests, except where a step replaced a directory: there the opaque marker
 * (trusted.overlay.opaque) cannot be set, so each old entry gets a whiteout instead, and the flattened image
 * (read by skopeo and GNU tar) must be the same as the oci build's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { TSBUILD_BIN } from '../helpers/cli.js';
import { canonical, describeImage, listFixtures, prepareContext } from '../equivalence/describe.js';

const run = promisify(execFile);
const ROOT = repoRoot();
const FIXTURES = join(ROOT, 'fixtures', 'equivalence');
/** No CAP_SYS_ADMIN: what a default (unprivileged) Docker container gives its root user. */
const LOCKED_DOWN = ['setpriv', '--bounding-set=-sys_admin', '--inh-caps=-sys_admin', '--'];
/** Fixtures whose steps replace a directory: the locked-down build writes whiteouts instead of an opaque marker. */
const REPLACES_A_DIR = new Set(['whiteouts']);

describe('--isolation chroot builds the same images as runc + overlay', () => {
  let work = '';
  const fixtures = listFixtures(FIXTURES);

  const tsbuild = async (root: string, args: readonly string[], prefix: readonly string[] = []): Promise<{ code: number; stdout: string; stderr: string }> => {
    const cmd = [...prefix, process.execPath, TSBUILD_BIN, '--root', root, ...args];
    try {
      const { stdout, stderr } = await run(cmd[0]!, cmd.slice(1), { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, SOURCE_DATE_EPOCH: '0' } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  /** Builds fixture `name` in store `root`; returns its manifest digest. */
  const build = async (root: string, name: string, isolation: 'oci' | 'chroot', prefix: readonly string[] = []): Promise<string> => {
    const meta = join(work, `${name}-${isolation}-${prefix.length}.json`);
    const r = await tsbuild(root, ['build', '--progress', 'plain', '--isolation', isolation, '--metadata-file', meta, '-t', `eq-${name}:latest`, join(work, 'ctx', name)], prefix);
    assert.equal(r.code, 0, `${name} (${isolation}${prefix.length ? ', locked down' : ''}) failed:\n${r.stderr.slice(-3000)}`);
    return (JSON.parse(readFileSync(meta, 'utf8')) as Record<string, string>)['containerimage.digest']!;
  };
  const roots = { oci: '', chroot: '', locked: '' };
  const digests = new Map<string, string>();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tsbuild-chroot-eq-'));
    await run('sh', [join(ROOT, 'fixtures/scripts/make-busybox-rootfs.sh'), join(work, 'rootfs'), '-o', join(work, 'busybox.tar')], { env: { ...process.env, SOURCE_DATE_EPOCH: '0' } });
    for (const k of ['oci', 'chroot', 'locked'] as const) {
      roots[k] = join(work, k);
      const r = await tsbuild(roots[k], ['import', join(work, 'busybox.tar'), 'busybox:latest']);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const name of fixtures) prepareContext(join(FIXTURES, name), join(work, 'ctx', name));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has the fixtures', () => assert.ok(fixtures.length >= 15, `only ${fixtures.length} fixtures`));

  for (const name of fixtures) {
    it(`${name}: same manifest digest with and without chroot isolation`, { timeout: 120_000 }, async () => {
      const oci = await build(roots.oci, name, 'oci');
      const chroot = await build(roots.chroot, name, 'chroot');
      digests.set(name, oci);
      assert.equal(chroot, oci);
    });
  }

  it('an oci build fails in the locked-down container (the simulation holds)', { timeout: 120_000 }, async () => {
    const r = await tsbuild(roots.locked, ['build', '--progress', 'plain', '--no-cache', '-t', 'must-fail', join(work, 'ctx', 'whiteouts')], LOCKED_DOWN);
    assert.notEqual(r.code, 0, 'a runc + overlay build worked without CAP_SYS_ADMIN: the test does not simulate a locked-down container');
    assert.match(r.stderr, /mount|permission|not permitted/i);
  });

  for (const name of fixtures) {
    it(`${name}: chroot isolation builds it in a locked-down container (no CAP_SYS_ADMIN)`, { timeout: 120_000 }, async (t) => {
      const want = digests.get(name);
      if (!want) return t.skip('its first build failed');
      const got = await build(roots.locked, name, 'chroot', LOCKED_DOWN);
      if (!REPLACES_A_DIR.has(name)) return assert.equal(got, want);
      assert.notEqual(got, want, 'a replaced directory was expected to be written without its opaque marker');
      const flat = async (root: string): Promise<unknown> => {
        const archive = join(work, `${name}-${root === roots.oci ? 'oci' : 'locked'}.tar`);
        await run('skopeo', ['copy', '--quiet', `oci:${root}:docker.io/library/eq-${name}:latest`, `docker-archive:${archive}:eq-${name}:latest`]);
        const d = await describeImage(archive);
        rmSync(archive, { force: true });
        return canonical(d);
      };
      assert.deepEqual(await flat(roots.locked), await flat(roots.oci));
    });
  }
});
