import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord, recordFileOf, stillServes, type SnapshotChunk } from '../../cli/snapshot.js';

/**
 * A record saying no snapshot could be made (`none`) stops further tries only for the chunks it was tried with:
 * a pull through a proxy loads the undici chunk, which cannot go into a snapshot; the pulls after it, without a
 * proxy, compile another set and must get their snapshot (they kept none until the next install).
 */
test('a none record holds for exactly its set of chunks; another set tries again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-snapnone-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const main: SnapshotChunk = { name: 'main.cjs', sourceBytes: 100, sourceCrc: 1 };
  const pull: SnapshotChunk = { name: 'transfer-X.cjs', sourceBytes: 200, sourceCrc: 2 };
  const undici: SnapshotChunk = { name: 'undici-Y.cjs', sourceBytes: 300, sourceCrc: 3 };
  for (const c of [main, pull, undici]) writeFileSync(join(dir, c.name), 'x');
  const record = (blob: string, chunks: SnapshotChunk[]): void => {
    writeFileSync(recordFileOf(dir, 'pull'), encodeRecord({ execPath: process.execPath, blob, version: process.version, chunks }));
    // node's modification time, to the nanosecond, as snapshot.ts gives its records (else none serves).
    execFileSync('touch', ['-r', process.execPath, recordFileOf(dir, 'pull')]);
  };
  record('none', [main, pull, undici]);
  assert.equal(stillServes(dir, 'pull', [main, pull, undici]), true, 'the same chunks: not tried again');
  assert.equal(stillServes(dir, 'pull', [main, pull]), false, 'a pull without the proxy chunk tries again');
  record('none', [main, pull]);
  assert.equal(stillServes(dir, 'pull', [main, pull]), true);
  assert.equal(stillServes(dir, 'pull', [main, pull, undici]), false, 'and one with it tries too');
  assert.equal(stillServes(dir, 'pull', [main, { ...pull, sourceCrc: 9 }]), false, 'a changed chunk tries again, as before');
});
