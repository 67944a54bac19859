import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePlatform } from '../../layer-store/index.js';
import { onlyErrorLine, runCliAsync } from '../helpers/cli.js';

test('containerd spellings normalise: x86_64, aarch64, armhf, armel, i386, arm64/8, one word', () => {
  const cases: [string, string][] = [
    ['linux/x86_64', 'linux/amd64'], ['linux/x86-64', 'linux/amd64'], ['linux/amd64/v1', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64'], ['linux/arm64/8', 'linux/arm64/v8'], ['linux/aarch64/v9.0', 'linux/arm64/v9'],
    ['linux/armhf', 'linux/arm/v7'], ['linux/armel', 'linux/arm/v6'], ['linux/arm', 'linux/arm/v7'], ['linux/arm/6', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'], ['Linux/AMD64', 'linux/amd64'], ['aarch64', 'linux/arm64'], ['macos/arm64', 'darwin/arm64'],
  ];
  for (const [s, want] of cases) {
    const p = parsePlatform(s);
    assert.equal(`${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`, want, s);
  }
});

test('an unknown --platform fails with exit 2 before any pull: the registry of the FROM image sees no request', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-platform-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A registry stand-in that counts requests: a build that tried to pull the base would reach it.
  let requests = 0;
  const server = createServer((_req, res) => { requests++; res.writeHead(500).end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  await writeFile(join(dir, 'Dockerfile'), `FROM ${host}/base/img:1\nRUN touch /marker\n`);
  const root = join(dir, 'root');
  const cases: [string, RegExp][] = [
    ['linux/foo', /^error: unknown platform "linux\/foo": unknown architecture "foo" \(--platform linux\/foo\): use os\/arch\[\/variant\], e\.g\. linux\/amd64, linux\/arm64, .*; known architectures: 386, amd64, .*arm64.*s390x/],
    ['linux/arm64/v99', /^error: unknown platform "linux\/arm64\/v99": unknown variant "v99" of arm64 \(--platform linux\/arm64\/v99\): linux\/arm64 variants are v8, v8\.1, .*v9.* \(or none\)$/],
    ['linux/s390x/v2', /^error: unknown platform "linux\/s390x\/v2": unknown variant "v2" of s390x .*: s390x has no variants: write linux\/s390x$/],
    ['plan9/amd64', /^error: unknown platform "plan9\/amd64" for a build: tsbuild builds linux images only \(--platform plan9\/amd64\): use linux\/amd64 or another linux platform/],
    ['foo/amd64', /^error: unknown platform "foo\/amd64": unknown operating system "foo" .*known operating systems: aix, .*linux.*windows/],
    ['linux/amd64,linux/foo', /unknown architecture "foo" \(--platform linux\/foo\)/],
  ];
  for (const [platform, want] of cases) {
    const started = Date.now();
    const r = await runCliAsync(['--root', root, '--progress', 'quiet', 'build', '--platform', platform, dir]);
    assert.equal(r.code, 2, `${platform}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), want);
    assert.ok(Date.now() - started < 5_000, 'no network timeout');
  }
  assert.equal(requests, 0, 'no request reached the registry');
  assert.ok(!existsSync(root), 'the store was not opened');
});

test('an unknown FROM --platform= fails when the build starts, with its Dockerfile line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-platform-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'Dockerfile'), 'FROM scratch AS a\nCOPY Dockerfile /\n\nFROM --platform=linux/mips99 scratch\nCOPY --from=a /Dockerfile /\n');
  const r = await runCliAsync(['--root', join(dir, 'root'), '--progress', 'json', 'build', dir]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(onlyErrorLine(r), /^error: unknown platform "linux\/mips99": unknown architecture "mips99" \(Dockerfile:4\): use os\/arch/);
  assert.doesNotMatch(r.stdout, /step\.start/, 'no stage started, not even the valid one');
});
