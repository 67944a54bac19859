/**
 * `# syntax=` names the frontend image BuildKit runs (parser/directives.go DetectSyntax; the BUILDKIT_SYNTAX build
 * arg wins, `dockerfile.v0` meaning the built-in frontend). tsbuild runs no frontend image: docker/dockerfile at a
 * version of the grammar it implements is served by its built-in frontend, and progress and --explain say so; any
 * other frontend is one error line at the directive (or naming the build arg), for builds, --check and --call alike.
 * The `# escape=` and `# check=` directives after it still apply. The real CLI against a store with busybox.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseFrontend, detectSyntax } from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';
import { onlyErrorLine, runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let n = 0;

const tsbuild = (args: string[], env?: NodeJS.ProcessEnv): CliResult => runCli(['--root', root, ...args], env ? { env: { ...process.env, ...env } } : {});

/** A fresh context holding `dockerfile` and a.txt. */
async function context(dockerfile: string): Promise<string> {
  const dir = join(work, `ctx${n++}`);
  await mkdir(dir);
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  await writeFile(join(dir, 'a.txt'), 'A\n');
  return dir;
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-syntax-'));
  root = join(work, 'root');
  assert.equal(runCli(['--root', root, 'import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('the syntax directive is found as BuildKit finds it: after a BOM or a #! line, among the other directives, or as // and JSON', () => {
  assert.deepEqual(detectSyntax('# syntax=docker/dockerfile:1\nFROM x\n'), { ref: 'docker/dockerfile:1', cmdline: 'docker/dockerfile:1', line: 1 });
  assert.deepEqual(detectSyntax('\ufeff#escape=`\n#  SYNTAX = a/b:1 --opt\nFROM x\n'), { ref: 'a/b:1', cmdline: 'a/b:1 --opt', line: 2 });
  assert.deepEqual(detectSyntax('#!/usr/bin/env buildctl\n# syntax=a/b\nFROM x\n'), { ref: 'a/b', cmdline: 'a/b', line: 2 });
  assert.deepEqual(detectSyntax('//syntax=a/c\n'), { ref: 'a/c', cmdline: 'a/c', line: 1 });
  assert.deepEqual(detectSyntax('{"syntax": "a/d"}'), { ref: 'a/d', cmdline: 'a/d', line: 1 });
  assert.equal(detectSyntax('FROM x\n# syntax=a/b\n'), undefined, 'directives only at the top');
  assert.equal(detectSyntax('# a comment\n# syntax=a/b\n'), undefined, 'a comment ends the directives');
  assert.equal(detectSyntax('# check=skip=all\n# check=error=true\n# syntax=a/b\n'), undefined, 'a repeated directive ends them');
});

test('docker/dockerfile at a version of the built-in grammar is accepted; other frontends are refused at their line', () => {
  for (const ref of ['docker/dockerfile:1', 'docker/dockerfile:1.4', 'docker/dockerfile:1.26.0', 'docker.io/docker/dockerfile:1.7-labs', 'docker/dockerfile',
    'index.docker.io/docker/dockerfile:latest', 'docker/dockerfile:1.3-experimental', 'docker/dockerfile:experimental', 'docker/dockerfile:1.26.0-rc1',
    `docker/dockerfile:1@sha256:${'a'.repeat(64)}`, 'docker/dockerfile-upstream:master', 'docker/dockerfile-upstream:master-labs', 'dockerfile.v0']) {
    const c = chooseFrontend(`# syntax=${ref}\nFROM x\n`, { file: 'Dockerfile' });
    assert.equal(c.namedBy, 'directive', ref);
    assert.match(c.description, /tsbuild's built-in Dockerfile frontend \(docker\/dockerfile 1\.26 grammar/, ref);
  }
  const refused: [string, RegExp][] = [
    ['ghcr.io/foo/frontend:1', /^unsupported frontend "ghcr.io\/foo\/frontend:1": tsbuild builds with its built-in Dockerfile frontend/],
    ['foobar', /^unsupported frontend "foobar"/],
    ['registry-1.docker.io/docker/dockerfile:1', /^unsupported frontend/],
    ['docker/dockerfile:1.27', /^frontend docker\/dockerfile:1\.27 is newer than tsbuild's built-in Dockerfile frontend \(docker\/dockerfile 1\.26\)/],
    ['docker/dockerfile:2', /implements docker\/dockerfile 1\.x up to 1\.26, not "2"/],
    ['docker/dockerfile:master', /not "master"/],
    [`docker/dockerfile@sha256:${'b'.repeat(64)}`, /which docker\/dockerfile version this digest is cannot be told/],
  ];
  for (const [ref, want] of refused) {
    assert.throws(() => chooseFrontend(`# escape=\\\n# syntax=${ref}\nFROM x\n`, { file: 'df' }), (e: unknown) => {
      assert.ok(TsbuildError.is(e) && e.code === 'UNSUPPORTED', ref);
      assert.match(e.message, want, ref);
      assert.deepEqual(e.location, { file: 'df', line: 2 }, ref);
      return true;
    });
  }
  // BUILDKIT_SYNTAX wins over the directive; dockerfile.v0 ignores it; a bad one is named by the build arg.
  assert.equal(chooseFrontend('# syntax=ghcr.io/foo/frontend\nFROM x\n', { file: 'D', buildArgs: { BUILDKIT_SYNTAX: 'dockerfile.v0' } }).namedBy, 'build-arg');
  assert.throws(() => chooseFrontend('FROM x\n', { file: 'D', buildArgs: { BUILDKIT_SYNTAX: 'ghcr.io/foo/frontend' } }),
    (e: unknown) => TsbuildError.is(e) && e.location !== undefined && 'ref' in e.location && e.location.ref === '--build-arg BUILDKIT_SYNTAX');
  assert.equal(chooseFrontend('FROM x\n', { file: 'D' }).namedBy, 'none');
});

test('a build with # syntax=docker/dockerfile:1 uses the built-in frontend and says so in progress and --explain', { timeout: 120_000 }, async () => {
  const ctx = await context('# syntax=docker/dockerfile:1.7\nFROM busybox:latest\nCOPY <<EOF /h.txt\nheredoc\nEOF\nCOPY --link --chmod=600 a.txt /a.txt\n');
  const r = tsbuild(['--progress', 'plain', 'build', '--explain', '-t', 'syntax:ok', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^frontend: docker\/dockerfile:1\.7 served by tsbuild's built-in Dockerfile frontend .*\(# syntax=docker\/dockerfile:1\.7, Dockerfile:1\)$/m);
  assert.match(r.stderr, /^FRONTEND docker\/dockerfile:1\.7 served by tsbuild's built-in Dockerfile frontend .*no frontend image is pulled/m);
  const f = tsbuild(['run', 'syntax:ok', 'sh', '-c', 'cat /h.txt; stat -c %a /a.txt']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, 'heredoc\n600\n');
  // Once per build, not once per platform.
  const multi = tsbuild(['--progress', 'plain', 'build', '--platform', 'linux/amd64,linux/arm64', await context('# syntax=docker/dockerfile:1\nFROM scratch\nCOPY a.txt /\n')]);
  assert.equal(multi.code, 0, multi.stderr);
  assert.equal(multi.stderr.split('\n').filter((l) => l.startsWith('frontend: ')).length, 1, multi.stderr);
});

test('another frontend is one error line at the directive, for build, --check and --call=outline; BUILDKIT_SYNTAX=dockerfile.v0 builds anyway', { timeout: 120_000 }, async () => {
  const ctx = await context('# syntax=ghcr.io/example/frontend:1\nFROM busybox:latest\nRUN echo ran > /ran\n');
  for (const extra of [[], ['--check'], ['--call=outline'], ['--call=targets']]) {
    const r = tsbuild(['build', ...extra, '-t', 'syntax:refused', ctx]);
    assert.equal(r.code, 1, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), /^error: unsupported frontend "ghcr\.io\/example\/frontend:1": tsbuild builds with its built-in Dockerfile frontend and runs no frontend image \(Dockerfile:1\): remove the # syntax line or point it at docker\/dockerfile:1 .*BUILDKIT_SYNTAX=dockerfile\.v0/);
  }
  assert.notEqual(tsbuild(['inspect', 'syntax:refused']).code, 0, 'nothing was built');
  const newer = tsbuild(['build', await context('# syntax=docker/dockerfile:1.99\nFROM busybox:latest\n')]);
  assert.equal(newer.code, 1);
  assert.match(onlyErrorLine(newer), /is newer than tsbuild's built-in Dockerfile frontend \(docker\/dockerfile 1\.26\) \(Dockerfile:1\): pin docker\/dockerfile:1/);

  const v0 = tsbuild(['--progress', 'plain', 'build', '--build-arg', 'BUILDKIT_SYNTAX=dockerfile.v0', '-t', 'syntax:v0', ctx]);
  assert.equal(v0.code, 0, v0.stderr);
  assert.match(v0.stderr, /^frontend: tsbuild's built-in Dockerfile frontend .* \(--build-arg BUILDKIT_SYNTAX\)$/m);
  assert.doesNotMatch(v0.stderr, /build argument BUILDKIT_SYNTAX was not consumed/);
  // `--build-arg NAME` takes the value from the environment, as docker's; a frontend there is refused by that name.
  const env = tsbuild(['build', '--build-arg', 'BUILDKIT_SYNTAX', await context('FROM busybox:latest\n')], { BUILDKIT_SYNTAX: 'example/frontend' });
  assert.equal(env.code, 1);
  assert.match(onlyErrorLine(env), /^error: unsupported frontend "example\/frontend": .* \(--build-arg BUILDKIT_SYNTAX\): give BUILDKIT_SYNTAX=dockerfile\.v0/);
});

test('# escape= and # check= after # syntax= still apply', { timeout: 120_000 }, async () => {
  const ctx = await context('# syntax=docker/dockerfile:1\n# escape=`\n# check=error=true\nFROM busybox:latest\nRUN echo one `\n  two > /out\n');
  const r = tsbuild(['build', '-t', 'syntax:escape', ctx]);
  assert.equal(r.code, 0, r.stderr);
  const out = tsbuild(['run', 'syntax:escape', 'cat', '/out']);
  assert.equal(out.stdout, 'one two\n', 'the backtick continued the line');
  const lint = await context('# syntax=docker/dockerfile:1\n# check=error=true\nFROM busybox:latest as base\n');
  const l = tsbuild(['build', lint]);
  assert.equal(l.code, 1);
  assert.match(l.stderr, /FromAsCasing/);
  assert.match(l.stderr, /lint violation found for rules: FromAsCasing/);
});
