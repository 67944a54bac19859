import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-import-nontar-'));
  root = join(dir, 'root');
  await mkdir(join(dir, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'etc', 'hello'), 'x'.repeat(5000));
  execFileSync('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'good.tar'), '.']);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function blobs(): Promise<string[]> {
  return (await readdir(join(root, 'blobs', 'sha256')).catch(() => [])).sort();
}

test('import refuses a file that is not a tar, naming it, and stores nothing', async () => {
  const good = await readFile(join(dir, 'good.tar'));
  const cases: [string, Buffer][] = [
    ['random.bin', randomBytes(4096)],
    ['text.txt', Buffer.from('hello, not a tar\n')],
    ['empty', Buffer.alloc(0)],
    ['text.gz', gzipSync(Buffer.from('hello, not a tar either\n'.repeat(100)))],
    ['garbage.gz', Buffer.concat([gzipSync(good).subarray(0, 200), randomBytes(300)])],
  ];
  assert.equal(runCli(['--root', root, 'import', join(dir, 'good.tar'), 'ok:1']).code, 0);
  const before = await blobs();
  for (const [name, bytes] of cases) {
    const p = join(dir, name);
    await writeFile(p, bytes);
    const r = runCli(['--root', root, 'import', p, `bad:${name.replace(/\W/g, '')}`]);
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    const line = onlyErrorLine(r);
    assert.match(line, /not a tar archive/, name);
    assert.ok(line.includes(p), `${name}: the line names the file: ${line}`);
    assert.deepEqual(await blobs(), before, `${name}: no blob stored`);
  }
  const images = runCli(['--root', root, 'images']);
  assert.doesNotMatch(images.stdout, /bad/);
});

test('import refuses a tar cut short in an entry', async () => {
  const p = join(dir, 'cut.tar');
  await writeFile(p, await readFile(join(dir, 'good.tar')));
  await truncate(p, 1024 + 700);
  const r = runCli(['--root', root, 'import', p, 'cut:1']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(onlyErrorLine(r), /not a tar archive/);
});
