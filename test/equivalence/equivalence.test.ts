/**
 * Equivalence with BuildKit (issue 5's acceptance test): every fixture under fixtures/equivalence is built with
 * tsbuild, exported with skopeo (an independent reader of tsbuild's OCI layout) as a docker-archive, flattened
 * and described by describe.ts, and compared with expected.json, which test/equivalence/generate.sh made once
 * from real BuildKit (docker.io 20.10) with the same busybox base and the same describe.ts. Mtimes aside, every
 * path's type, mode, owner, size, content digest, link target and hardlink group must match, and so must the
 * config fields Env, Entrypoint, Cmd, WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal,
 * Healthcheck, Shell and OnBuild.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { canonical, describeImage, listFixtures, prepareContext, type ImageDescription } from './describe.js';

/**
 * Fixtures whose difference from BuildKit the lead has accepted for now (name → reason). They still run, as
 * `todo` tests, so their diff stays visible. Keep this empty unless a difference is a decision, not a bug.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

const run = promisify(execFile);
const ROOT = repoRoot();
const FIXTURES = join(ROOT, 'fixtures', 'equivalence');
const TSBUILD = join(ROOT, 'bin', 'tsbuild.js');
const MAX_DIFF_LINES = 40;

/** Lists the differences between BuildKit's description and tsbuild's, one readable line each. */
function diffDescriptions(expected: ImageDescription, actual: ImageDescription): string[] {
  const lines: string[] = [];
  for (const key of Object.keys(expected.config)) {
    const e = JSON.stringify(canonical(expected.config[key]));
    const a = JSON.stringify(canonical(actual.config[key] ?? null));
    if (e !== a) lines.push(`config.${key}: BuildKit ${e} | tsbuild ${a}`);
  }
  const paths = [...new Set([...Object.keys(expected.tree), ...Object.keys(actual.tree)])].sort();
  for (const p of paths) {
    const e = expected.tree[p];
    const a = actual.tree[p];
    if (e === a) continue;
    if (a === undefined) lines.push(`/${p}: only in BuildKit: ${e}`);
    else if (e === undefined) lines.push(`/${p}: only in tsbuild: ${a}`);
    else lines.push(`/${p}: BuildKit ${e} | tsbuild ${a}`);
  }
  return lines;
}

describe('equivalence with BuildKit', () => {
  let work = '';
  let root = '';

  const tsbuild = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(process.execPath, [TSBUILD, '--root', root, ...args], {
        cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, SOURCE_DATE_EPOCH: '0' },
      });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`tsbuild ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tsbuild-equivalence-'));
    root = join(work, 'root');
    // The same base as generate.sh gave BuildKit: make-busybox-rootfs.sh with SOURCE_DATE_EPOCH=0.
    await run('sh', [join(ROOT, 'fixtures/scripts/make-busybox-rootfs.sh'), join(work, 'rootfs'), '-o', join(work, 'busybox.tar')], {
      env: { ...process.env, SOURCE_DATE_EPOCH: '0' },
    });
    await tsbuild('import', join(work, 'busybox.tar'), 'busybox:latest');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const fixtures = listFixtures(FIXTURES);
  it('has the fixtures and their expected data', () => {
    assert.ok(fixtures.length >= 15, `only ${fixtures.length} fixtures in ${FIXTURES}`);
    const unknown = Object.keys(KNOWN_DIFFERENCES).filter((n) => !fixtures.includes(n));
    assert.deepEqual(unknown, [], 'KNOWN_DIFFERENCES names fixtures that do not exist');
  });

  for (const name of fixtures) {
    const todo = KNOWN_DIFFERENCES[name];
    it(name, todo === undefined ? {} : { todo }, async () => {
      const expected = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as ImageDescription;
      const ctx = join(work, 'ctx', name);
      prepareContext(join(FIXTURES, name), ctx);
      const ref = `eq-${name}:latest`;
      await tsbuild('build', '--progress', 'plain', '-t', ref, ctx);
      const archive = join(work, `${name}.tar`);
      await run('skopeo', ['copy', '--quiet', `oci:${root}:docker.io/library/${ref}`, `docker-archive:${archive}:${ref}`]);
      const actual = await describeImage(archive);
      rmSync(archive, { force: true });
      const diff = diffDescriptions(expected, actual);
      if (diff.length > 0) {
        const shown = diff.slice(0, MAX_DIFF_LINES).join('\n  ');
        const more = diff.length > MAX_DIFF_LINES ? `\n  … and ${diff.length - MAX_DIFF_LINES} more` : '';
        assert.fail(`${name}: ${diff.length} difference(s) from BuildKit:\n  ${shown}${more}`);
      }
    });
  }
});
