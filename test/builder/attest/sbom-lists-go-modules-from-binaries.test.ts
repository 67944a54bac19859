/**
 * Go executables: module-mode binaries (ELF files laid out as the Go linker writes them, in both build-info
 * layouts, carrying the real module info of this repo's esbuild binary) give their main module, each
 * dependency at its version (a replacement's when replaced) and the toolchain's stdlib; Debian's runc and
 * skopeo (built without modules) give their main package path and the Go version `runc --version` reports;
 * a non-Go executable gives nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom, readGoBuildInfo } from '../../../builder/attest/sbom/index.js';
import { repoRoot } from '../../helpers/paths.js';
import { spdxProblems } from '../../helpers/spdx-schema.js';
import { listed } from '../../helpers/sbom.js';
import { embeddedModinfo, goElf } from '../../helpers/go-elf.js';

function esbuildModinfo(): string {
  const bin = join(repoRoot(), 'node_modules', '@esbuild', `linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`, 'bin', 'esbuild');
  const text = embeddedModinfo(readFileSync(bin));
  assert.ok(text?.startsWith('path\t'), `module info in ${bin}`);
  return text!;
}

/** The modules a modinfo text names, read line by line: `mod`/`dep` with the `=>` line that follows, if any. */
function modulesOf(text: string): { main: string; deps: string[] } {
  const lines = text.split('\n').map((l) => l.split('\t'));
  let main = '';
  const deps: string[] = [];
  lines.forEach((f, i) => {
    const next = lines[i + 1];
    const m = next?.[0] === '=>' && next[2] ? `${next[1]}@${next[2]}` : `${f[1]}@${f[2]}`;
    if (f[0] === 'mod') main = m;
    if (f[0] === 'dep') deps.push(m);
  });
  return { main, deps };
}

test('module-mode Go binaries list their main module, dependencies (replacements applied) and stdlib', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-go-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const real = esbuildModinfo();
  const replaced = 'path\texample.com/tool/cmd/tool\nmod\texample.com/tool\tv1.4.2\th1:AAAA\n'
    + 'dep\tgolang.org/x/sys\tv0.1.0\th1:BBBB\n=>\tgolang.org/x/sys\tv0.2.0\th1:CCCC\n'
    + 'dep\tgithub.com/pkg/errors\tv0.9.1\th1:DDDD\nbuild\t-compiler=gc\nbuild\tGOOS=linux\n';
  mkdirSync(join(dir, 'usr/local/bin'), { recursive: true });
  writeFileSync(join(dir, 'usr/local/bin/esbuild-like'), goElf('go1.23.4', real, 'inline'), { mode: 0o755 });
  writeFileSync(join(dir, 'usr/local/bin/tool'), goElf('go1.16.15', replaced, 'pointers'), { mode: 0o755 });
  writeFileSync(join(dir, 'usr/local/bin/not-executable'), goElf('go1.23.4', real, 'inline'), { mode: 0o644 });

  const info = await readGoBuildInfo(join(dir, 'usr/local/bin/tool'));
  assert.equal(info?.goVersion, 'go1.16.15');
  assert.equal(info?.path, 'example.com/tool/cmd/tool');
  assert.deepEqual(info?.deps[0], { path: 'golang.org/x/sys', version: 'v0.1.0', sum: 'h1:BBBB', replace: { path: 'golang.org/x/sys', version: 'v0.2.0', sum: 'h1:CCCC' } });

  const doc = await generateSbom({ layers: [dir], name: 'go', created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);
  const got = listed(doc, 'golang');
  const by = (file: string): string[] => got.filter((p) => p.files.includes(file)).map((p) => `${p.name}@${p.version}`).sort();
  const want = modulesOf(real);
  assert.ok(want.deps.length > 0, 'esbuild depends on modules');
  assert.deepEqual(by('usr/local/bin/esbuild-like'), [want.main, ...want.deps, 'stdlib@go1.23.4'].sort());
  assert.deepEqual(by('usr/local/bin/tool'), ['example.com/tool@v1.4.2', 'github.com/pkg/errors@v0.9.1', 'golang.org/x/sys@v0.2.0', 'stdlib@go1.16.15']);
  assert.equal(got.find((p) => p.name === 'golang.org/x/sys' && p.version === 'v0.2.0')!.purl, 'pkg:golang/golang.org/x/sys@v0.2.0');
  assert.equal(got.find((p) => p.name === 'stdlib' && p.version === 'go1.16.15')!.purl, 'pkg:golang/stdlib@1.16.15');
  assert.ok(!got.some((p) => p.files.includes('usr/local/bin/not-executable')), 'only executables are scanned');
  const file = doc.files.find((f) => f.fileName === 'usr/local/bin/tool')!;
  const sha256 = execFileSync('sha256sum', [join(dir, 'usr/local/bin/tool')], { encoding: 'utf8' }).split(' ')[0];
  assert.deepEqual(file.checksums.find((c) => c.algorithm === 'SHA256')?.checksumValue, sha256);
});

test("Debian's runc and skopeo (built without modules) give their main package and Go version; a C binary nothing", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-go-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'usr/bin'), { recursive: true });
  mkdirSync(join(dir, 'usr/sbin'), { recursive: true });
  copyFileSync('/usr/sbin/runc', join(dir, 'usr/sbin/runc'));
  copyFileSync('/usr/bin/env', join(dir, 'usr/bin/env'));
  const skopeo = existsSync('/usr/bin/skopeo');
  if (skopeo) copyFileSync('/usr/bin/skopeo', join(dir, 'usr/bin/skopeo'));
  const goVersion = /^go: (go\S+)$/m.exec(execFileSync('/usr/sbin/runc', ['--version'], { encoding: 'utf8' }))?.[1];
  assert.ok(goVersion, 'runc --version names its Go');

  const doc = await generateSbom({ layers: [dir], name: 'runc', created: new Date(0) });
  assert.deepEqual(spdxProblems(doc), []);
  const got = listed(doc, 'golang');
  const runc = got.find((p) => p.name === 'github.com/opencontainers/runc')!;
  assert.deepEqual({ version: runc.version, purl: runc.purl, files: runc.files },
    { version: '', purl: 'pkg:golang/github.com/opencontainers/runc', files: ['usr/sbin/runc'] });
  const std = got.find((p) => p.name === 'stdlib')!;
  assert.equal(std.version, goVersion);
  assert.ok(std.files.includes('usr/sbin/runc'));
  if (skopeo) assert.ok(got.some((p) => p.name === 'github.com/containers/skopeo/cmd/skopeo' && p.files.includes('usr/bin/skopeo')));
  assert.ok(!got.some((p) => p.files.includes('usr/bin/env')), 'env is not a Go binary');
});
