// ADD extracts a local file when Go's archive/tar reads a header from it (BuildKit's isArchivePath): any format
// with a valid header checksum, V7 included; a block with the ustar magic but a wrong checksum, a zero block or a
// short file is copied as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveKind } from '../../builder/execute/add.js';

test('archiveKind: V7, ustar and gzip tars are archives; a bad checksum, zeros and text are not', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'tsbuild-kind-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  mkdirSync(join(d, 'src'));
  writeFileSync(join(d, 'src/foo'), 'Hi');
  for (const format of ['v7', 'ustar', 'gnu', 'posix']) {
    execFileSync('tar', [`--format=${format}`, '-cf', join(d, `${format}.tar`), '-C', join(d, 'src'), 'foo']);
    assert.equal(await archiveKind(join(d, `${format}.tar`)), 'tar', format);
  }
  assert.equal(readFileSync(join(d, 'v7.tar')).toString('latin1', 257, 262), '\0'.repeat(5), 'a V7 header has no magic');
  execFileSync('sh', ['-c', `gzip -c < ${join(d, 'v7.tar')} > ${join(d, 'v7.tar.gz')}`]);
  assert.equal(await archiveKind(join(d, 'v7.tar.gz')), 'gzip');
  const bad = readFileSync(join(d, 'ustar.tar'));
  bad[0] = bad[0]! ^ 1; // the name changes, the checksum no longer matches
  writeFileSync(join(d, 'bad.tar'), bad);
  assert.equal(await archiveKind(join(d, 'bad.tar')), undefined);
  writeFileSync(join(d, 'zeros.tar'), Buffer.alloc(1024));
  assert.equal(await archiveKind(join(d, 'zeros.tar')), undefined);
  writeFileSync(join(d, 'short.tar'), readFileSync(join(d, 'ustar.tar')).subarray(0, 300));
  assert.equal(await archiveKind(join(d, 'short.tar')), undefined);
  writeFileSync(join(d, 'text'), 'x'.repeat(600));
  assert.equal(await archiveKind(join(d, 'text')), undefined);
});
