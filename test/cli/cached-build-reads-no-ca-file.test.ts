import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';

// The registry client reads --ca-file (default $SSL_CERT_FILE, often the 220 KB system bundle) at its first
// verified TLS connection, not when it is made (registry-client/dispatchers.ts): a build that talks to no
// registry never opens it, so an unreadable one does not fail it. (A pull that needs it fails with one line naming
// the file: test/registry-client/https-with-ca-file.test.ts.)

const hasStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;

test('a build that needs no registry neither opens nor fails on the CA file (--ca-file, SSL_CERT_FILE)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-no-ca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nnot read\n-----END CERTIFICATE-----\n');
  const args = ['--root', join(dir, 'root'), '--progress', 'quiet', 'build', '-q', '-t', 'no-ca:1', ctx];
  const env = (file: string): NodeJS.ProcessEnv => ({ ...process.env, SSL_CERT_FILE: file });

  const cold = runCli(args, { env: env(join(dir, 'missing.pem')) });
  assert.equal(cold.code, 0, cold.stderr);
  const digest = cold.stdout;
  // Fully cached: a missing file, a directory, an unreadable --ca-file: all the same image.
  for (const e of [env(join(dir, 'missing.pem')), env(dir)]) {
    const r = runCli(args, { env: e });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, digest);
  }
  const flag = runCli([...args.slice(0, 5), '--ca-file', join(dir, 'missing.pem'), ...args.slice(5)]);
  assert.equal(flag.code, 0, flag.stderr);
  assert.equal(flag.stdout, digest);

  if (!hasStrace) return t.diagnostic('no strace: the open calls are not checked');
  const log = join(dir, 'strace.txt');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=open,openat', '-o', log, TSBUILD_LAUNCHER, ...args], { encoding: 'utf8', env: env(ca) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, digest);
  const opens = readFileSync(log, 'utf8');
  assert.match(opens, /Dockerfile/, 'strace sees the build\'s opens');
  assert.equal(opens.includes(ca), false, 'the CA file was opened');
});
