import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

/** A context dir with `Dockerfile` = `df` and a file `a`, and a store root inside it; removed after the test. */
function context(t: { after(f: () => void): void }, df: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Dockerfile'), df);
  writeFileSync(join(dir, 'a'), 'a\n');
  return { dir, env: { ...process.env, TSBUILD_ROOT: join(dir, '.root') } };
}

const WARNS = '#check=skip=ConsistentInstructionCasing\nFROM scratch as base\ncopy a /a\nCMD run\n';

test('--check and --call=check print buildx\'s report (rule, URL, detail, source lines) and exit 1 on warnings', (t) => {
  const { dir, env } = context(t, WARNS);
  for (const flag of ['--check', '--call=check']) {
    const r = runCli(['build', flag, dir], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Check complete, 2 warnings have been found!\n/);
    assert.match(r.stdout, /\nWARNING: FromAsCasing - https:\/\/docs\.docker\.com\/go\/dockerfile\/rule\/from-as-casing\/\n'as' and 'FROM' keywords' casing do not match\nDockerfile:2\n-{20}\n/);
    assert.match(r.stdout, /   2 \| >>> FROM scratch as base\n/);
    assert.match(r.stdout, /WARNING: JSONArgsRecommended/);
  }
  assert.equal(runCli(['build', '--call=check,ignorestatus=true', dir], { env }).code, 0);
});

test('--call=check,format=json prints BuildKit\'s lint result shape', (t) => {
  const { dir, env } = context(t, WARNS);
  const r = runCli(['build', '--call=check,format=json', dir], { env });
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout) as { warnings: Record<string, unknown>[]; sources: { filename: string; data: string }[]; buildError?: unknown };
  assert.deepEqual(Object.keys(out), ['warnings', 'sources']);
  assert.deepEqual(out.warnings[0], {
    ruleName: 'FromAsCasing', description: "The 'as' keyword should match the case of the 'from' keyword",
    url: 'https://docs.docker.com/go/dockerfile/rule/from-as-casing/', detail: "'as' and 'FROM' keywords' casing do not match",
    location: { ranges: [{ start: { line: 2 }, end: { line: 2 } }] },
  });
  assert.equal(out.sources[0]!.filename, 'Dockerfile');
  assert.equal(Buffer.from(out.sources[0]!.data, 'base64').toString(), WARNS);
});

test('a clean Dockerfile checks with exit 0; a broken one reports its error (JSON buildError) and exits 1', (t) => {
  const { dir, env } = context(t, 'FROM scratch\nCOPY a /a\n');
  const ok = runCli(['build', '--check', dir], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'Check complete, no warnings found.\n');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch AS Bad\nBADCMD\n');
  const bad = runCli(['build', '--check', dir], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /WARNING: StageNameCasing/);
  assert.match(bad.stdout, /unknown instruction: BADCMD\nDockerfile:2\n/);
  assert.match(onlyErrorLine(bad), /unknown instruction: BADCMD.*Dockerfile:2/);
  const js = runCli(['build', '--call=check,format=json', dir], { env });
  assert.equal(js.code, 1);
  assert.match((JSON.parse(js.stdout) as { buildError: { message: string } }).buildError.message, /unknown instruction: BADCMD/);
});

test('an unknown --call value is a usage error naming it', (t) => {
  const { dir, env } = context(t, 'FROM scratch\n');
  const r = runCli(['build', '--call=bogus', dir], { env });
  assert.equal(r.code, 2);
  assert.match(onlyErrorLine(r), /unknown --call value "bogus"/);
  assert.equal(runCli(['build', '--call=check,format=yaml', dir], { env }).code, 2);
});

test('a build prints its check warnings at the end with Dockerfile:line; --progress json carries them as events; error=true fails it', (t) => {
  const { dir, env } = context(t, WARNS);
  const r = runCli(['build', '--progress', 'plain', '-t', 'checked', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built sha256:[0-9a-f]{64}[^\n]*\n\n 2 warnings found \(use --debug to expand\):\n - FromAsCasing: 'as' and 'FROM' keywords' casing do not match \(Dockerfile:2\)\n - JSONArgsRecommended: [^\n]* \(Dockerfile:4\)\n$/);
  const js = runCli(['build', '--progress', 'json', dir], { env });
  assert.equal(js.code, 0, js.stderr);
  const events = js.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; rule?: { name: string; url?: string }; location?: { line: number } });
  const w = events.filter((e) => e.type === 'warning' && e.rule);
  assert.deepEqual(w.map((e) => [e.rule!.name, e.location!.line]), [['FromAsCasing', 2], ['JSONArgsRecommended', 4]]);
  assert.doesNotMatch(js.stderr, /warnings found/);
  writeFileSync(join(dir, 'Dockerfile'), WARNS.replace('#check=skip=ConsistentInstructionCasing', '#check=skip=ConsistentInstructionCasing;error=true'));
  const failed = runCli(['build', '--progress', 'plain', '-t', 'checked2', dir], { env });
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /error: lint violation found for rules: FromAsCasing, JSONArgsRecommended \(Dockerfile:2\)/);
  assert.match(failed.stderr, / 2 warnings found/);
  assert.doesNotMatch(failed.stderr, /#\d+ \[/, 'no step ran');
});
