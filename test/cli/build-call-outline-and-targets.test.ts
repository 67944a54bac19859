/**
 * `tsbuild build --call=outline|targets|subrequests.describe[,format=json]`: prints what buildx prints (BuildKit's
 * text tables, or its result.json), exits 0 and builds nothing (the store is not even created); a bad --call value
 * is a usage error.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

const DOCKERFILE = [
  'ARG BASE=busybox',
  '# builder compiles <the> app & more',
  'FROM ${BASE} AS builder',
  '# VERSION is the release',
  'ARG VERSION=1.0',
  'RUN --mount=type=secret,id=token,required --mount=type=ssh true',
  'FROM scratch',
  'COPY --from=builder /bin/sh /sh',
  '',
].join('\n');

function setup(t: { after(f: () => void): void }): { dir: string; env: NodeJS.ProcessEnv; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-call-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  const root = join(dir, 'root');
  return { dir, root, env: { ...process.env, TSBUILD_ROOT: root } };
}

test('--call=outline prints the target, build args, secrets and ssh as buildx does, and builds nothing', (t) => {
  const { dir, env, root } = setup(t);
  const r = runCli(['build', '--call=outline', '--target', 'builder', '--build-arg', 'VERSION=2', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    'TARGET:      builder',
    'DESCRIPTION: compiles <the> app & more',
    '',
    'BUILD ARG   VALUE     DESCRIPTION',
    'BASE        busybox   ',
    'VERSION     2         is the release',
    '',
    'SECRET   REQUIRED',
    'token    true',
    '',
    'SSH       REQUIRED',
    'default   ',
    '',
    '',
  ].join('\n'));
  assert.equal(existsSync(root), false, 'the store was opened');
  // the default target (unnamed, no args of its own) reaches the builder stage through COPY --from
  const d = runCli(['build', '--call', 'outline', dir], { env });
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^BUILD ARG {3}VALUE {5}DESCRIPTION\nBASE {8}busybox {3}\nVERSION {5}1\.0 {7}is the release\n/);
});

test('--call=outline,format=json prints BuildKit\'s result.json (Go\'s escaping, sources base64)', (t) => {
  const { dir, env } = setup(t);
  const r = runCli(['build', '--call=outline,format=json', '--target=builder', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('"description": "compiles \\u003cthe\\u003e app \\u0026 more",'), r.stdout);
  const o = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), ['name', 'description', 'args', 'secrets', 'ssh', 'sources']);
  assert.deepEqual(o.secrets, [{ name: 'token', required: true, location: { ranges: [{ start: { line: 6 }, end: { line: 6 } }] } }]);
  assert.deepEqual(o.ssh, [{ name: 'default', location: { ranges: [{ start: { line: 6 }, end: { line: 6 } }] } }]);
  assert.equal(Buffer.from((o.sources as string[])[0]!, 'base64').toString(), DOCKERFILE);
  assert.ok(r.stdout.startsWith('{\n  "name": "builder",\n'), 'indented by two spaces, as MarshalIndent');
});

test('--call=targets lists the stages (text and JSON)', (t) => {
  const { dir, env } = setup(t);
  const r = runCli(['build', '--call=targets', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'TARGET    DESCRIPTION\nbuilder   compiles <the> app & more\n(default) \n');
  const j = runCli(['build', '--call=targets,format=json', dir], { env });
  assert.equal(j.code, 0, j.stderr);
  const l = JSON.parse(j.stdout) as { targets: Record<string, unknown>[] };
  assert.deepEqual(l.targets.map((x) => [x.name, x.base, x.default]), [['builder', '${BASE}', undefined], [undefined, 'scratch', true]]);
});

test('--call=subrequests.describe lists outline, targets and describe', (t) => {
  const { dir, env } = setup(t);
  const r = runCli(['build', '--call=subrequests.describe', dir], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    'NAME                 VERSION DESCRIPTION',
    'outline              1.0.0   List all parameters current build target supports',
    'targets              1.0.0   List all targets current build supports',
    'subrequests.describe 1.0.0   List available subrequest types',
    '',
  ].join('\n'));
});

test('a bad --call value is a usage error naming it; a missing target fails as a build would', (t) => {
  const { dir, env } = setup(t);
  const bad: Record<string, RegExp> = {
    outlines: /unknown --call value "outlines"/,
    'outline,format=yaml': /unknown --call format "yaml"/,
    'outline,targets': /invalid --call value "outline,targets": two call names/,
    'outline,color=red': /invalid --call field: color=red/,
  };
  for (const [v, re] of Object.entries(bad)) {
    const r = runCli(['build', `--call=${v}`, dir], { env });
    assert.equal(r.code, 2, `${v}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), re);
  }
  const m = runCli(['build', '--call=outline', '--target', 'nope', dir], { env });
  assert.equal(m.code, 1);
  assert.match(onlyErrorLine(m), /target stage "nope" could not be found/);
  const f = runCli(['build', '--call=targets', '-f', join(dir, 'missing'), dir], { env });
  assert.equal(f.code, 1);
  assert.match(onlyErrorLine(f), /cannot read Dockerfile/);
});
