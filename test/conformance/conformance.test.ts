/**
 * BuildKit's own integration tests as a conformance suite (data-driven). Each case under cases/<upstream file
 * stem>/<TestFunction>[-n]/ holds a Dockerfile, an optional context/ directory and expect.json, which restates
 * what the upstream test asserts: files of the result image (content, mode, owner, type, absence), config fields,
 * or an error substring. Many upstream tests assert inside RUN (`[ "$(stat …)" = … ]`), so for those a build
 * that succeeds is the assertion. Every case is built with the library in one store on one local busybox base.
 *
 * run-case.ts builds one case and compares it with its expect.json; this file runs them all and checks the
 * upstream ledger. exceptions.json lists the cases that fail today, each with its diagnosed reason: a listed case must still fail
 * (remove it when fixed), every other case must pass.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { makeConformanceBase } from './base.js';
import { tagCheckBases } from './checks-expect.js';
import { closeGitCases } from './git-case.js';
import { CASES, isDir, runCase } from './run-case.js';

const DIR = join(repoRoot(), 'test', 'conformance');
const EXCEPTIONS = JSON.parse(readFileSync(join(DIR, 'exceptions.json'), 'utf8')) as Record<string, string>;

/** upstream.json: per upstream file, its number of test functions and the ones not ported (name → why); `repo` and
 * `commit` name the upstream snapshot when it is not moby/buildkit's `upstreamCommit` (moby/moby's builder tests). */
interface UpstreamLedger {
  files: Record<string, { tests: number; notPortable: Record<string, string>; repo?: string; commit?: string }>;
}
const LEDGER = JSON.parse(readFileSync(join(DIR, 'upstream.json'), 'utf8')) as UpstreamLedger;

/** Returns the upstream test function a case ports (`testXxx`, or moby/moby's `TestXxx`, from its expect.json
 * `upstream`, whose repository must be its file's in upstream.json). */
function upstreamFunction(id: string): string {
  const exp = JSON.parse(readFileSync(join(CASES, id, 'expect.json'), 'utf8')) as { upstream?: string };
  const m = /^(\S+) \S+\.go ([Tt]est\w+)/.exec(exp.upstream ?? '');
  if (!m?.[2]) throw new Error(`${id}: expect.json "upstream" names no test function`);
  const repo = LEDGER.files[id.split('/')[0]!]?.repo ?? 'moby/buildkit';
  if (m[1] !== repo) throw new Error(`${id}: expect.json "upstream" names ${m[1]}, upstream.json says ${repo}`);
  return m[2];
}

/** Lists case ids (`<file stem>/<case>`), sorted. */
function listCases(): string[] {
  const ids: string[] = [];
  for (const file of readdirSync(CASES).sort()) {
    if (!isDir(join(CASES, file))) continue;
    for (const c of readdirSync(join(CASES, file)).sort()) {
      if (existsSync(join(CASES, file, c, 'expect.json'))) ids.push(`${file}/${c}`);
    }
  }
  return ids;
}

describe('conformance with BuildKit integration tests', { concurrency: 2 }, () => {
  const ids = listCases();
  const tally = new Map<string, { cases: number; passed: number; exceptions: number }>();
  let env: BuildEnv | undefined;
  let cleanupBase: (() => Promise<void>) | undefined;
  let work = '';
  const started = Date.now();

  before(async () => {
    const base = await makeConformanceBase();
    cleanupBase = base.cleanup;
    env = await makeBuildEnv(base);
    await tagCheckBases(env.store);
    work = mkdtempSync(join(tmpdir(), 'tsbuild-conformance-'));
  });

  after(async () => {
    const lines = Object.entries(LEDGER.files).map(([f, e]) => {
      const t = tally.get(f) ?? { cases: 0, passed: 0, exceptions: 0 };
      return `  ${f}: ${e.tests} upstream tests, ${ported.get(f)?.size ?? 0} ported as ${t.cases} cases ` +
        `(${t.passed} passed, ${t.exceptions} known differences), ${Object.keys(e.notPortable).length} not portable`;
    });
    const sum = (k: 'cases' | 'passed' | 'exceptions'): number => [...tally.values()].reduce((a, t) => a + t[k], 0);
    lines.push(`  total: ${sum('cases')} cases, ${sum('passed')} passed, ${sum('exceptions')} known differences`);
    console.log(`conformance (${((Date.now() - started) / 1000).toFixed(1)} s):\n${lines.join('\n')}`);
    await closeGitCases();
    if (work) rmSync(work, { recursive: true, force: true });
    await env?.cleanup();
    await cleanupBase?.();
  });

  /** Upstream functions with at least one case, per file. */
  const ported = new Map<string, Set<string>>();
  for (const id of ids) {
    const file = id.split('/')[0]!;
    const set = ported.get(file) ?? new Set<string>();
    set.add(upstreamFunction(id));
    ported.set(file, set);
  }

  it('lists only existing cases as exceptions', () => {
    assert.ok(ids.length > 0, 'no cases');
    assert.deepEqual(Object.keys(EXCEPTIONS).filter((id) => !ids.includes(id)), [], 'exceptions.json names missing cases');
  });

  it('accounts for every upstream test function (ported or not portable, never both)', () => {
    for (const [file, fns] of ported) {
      const entry = LEDGER.files[file];
      assert.ok(entry, `upstream.json has no file ${file}`);
      const both = [...fns].filter((fn) => fn in entry.notPortable);
      assert.deepEqual(both, [], `${file}: ported functions still listed as not portable`);
    }
    for (const [file, entry] of Object.entries(LEDGER.files)) {
      const n = (ported.get(file)?.size ?? 0) + Object.keys(entry.notPortable).length;
      assert.equal(n, entry.tests, `${file}: ${n} functions ported or not portable, upstream has ${entry.tests}`);
    }
  });

  for (const id of ids) {
    const file = id.split('/')[0]!;
    const reason = EXCEPTIONS[id];
    it(reason === undefined ? id : `${id} (known difference: ${reason})`, async () => {
      const t = tally.get(file) ?? { cases: 0, passed: 0, exceptions: 0 };
      tally.set(file, t);
      t.cases++;
      const problems = await runCase(env!, work, id);
      if (problems.length === 0) t.passed++;
      if (reason !== undefined) {
        t.exceptions++;
        assert.notDeepEqual(problems, [], `${id} passes now: remove it from exceptions.json`);
      } else {
        assert.deepEqual(problems, [], `${id}:\n  ${problems.join('\n  ')}`);
      }
    });
  }
});
