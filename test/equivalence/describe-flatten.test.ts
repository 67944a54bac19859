/**
 * describe.ts flattens layers the way the OCI image spec says (so the equivalence test compares real trees):
 * whiteouts hide lower files and directories, an opaque directory hides the lower directory's children but
 * not the entries of its own layer, a file replacing a directory drops the directory's children, and hardlinks
 * are grouped. Two layers are written by hand with tar-stream into a docker-archive directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pack } from 'tar-stream';

type Header = Parameters<ReturnType<typeof pack>['entry']>[0];
import { describeImage } from './describe.js';

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'link' | 'symlink';
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  body?: string;
}

async function layer(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const out = buffer(p);
  for (const e of entries) {
    const h: Header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, uid: e.uid ?? 0, gid: e.gid ?? 0 };
    if (e.linkname !== undefined) h.linkname = e.linkname;
    if (e.type === 'directory' || e.type === 'link' || e.type === 'symlink') p.entry(h);
    else p.entry(h, e.body ?? '');
  }
  p.finalize();
  return out;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

test('describeImage applies whiteouts, opaque directories and hardlinks in layer order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eq-flatten-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'l1.tar'), await layer([
    { name: 'a/', type: 'directory', mode: 0o755 },
    { name: 'a/gone', body: 'x' },
    { name: 'a/kept', body: 'k', mode: 0o4755, uid: 1000, gid: 10 },
    { name: 'o/', type: 'directory', mode: 0o755 },
    { name: 'o/old', body: 'old' },
    { name: 'r/', type: 'directory', mode: 0o755 },
    { name: 'r/child', body: 'c' },
    { name: 'h1', body: 'same' },
    { name: 'h2', type: 'link', linkname: 'h1' },
    { name: 's', type: 'symlink', linkname: '/nowhere', mode: 0o777 },
  ]));
  writeFileSync(join(dir, 'l2.tar'), await layer([
    { name: 'a/.wh.gone', body: '' },
    { name: 'o/new', body: 'new' },
    { name: 'o/.wh..wh..opq', body: '' },
    { name: 'r', body: 'now a file' },
    { name: 'h3', type: 'link', linkname: 'h2' },
  ]));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ config: { Env: ['A=1'], Labels: { b: '2', a: '1' }, WorkingDir: '' } }));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', Layers: ['l1.tar', 'l2.tar'] }]));

  const d = await describeImage(dir);
  assert.deepEqual(d.tree, {
    a: 'dir 0755 0:0',
    'a/kept': `file 4755 1000:10 size=1 sha256=${sha('k')}`,
    h1: `file 0644 0:0 size=4 sha256=${sha('same')} hardlinks=h1`,
    h2: `file 0644 0:0 size=4 sha256=${sha('same')} hardlinks=h1`,
    h3: `file 0644 0:0 size=4 sha256=${sha('same')} hardlinks=h1`,
    o: 'dir 0755 0:0',
    'o/new': `file 0644 0:0 size=3 sha256=${sha('new')}`,
    r: `file 0644 0:0 size=10 sha256=${sha('now a file')}`,
    s: 'symlink 0:0 -> /nowhere',
  });
  assert.equal(d.config['WorkingDir'], null);
  assert.deepEqual(d.config['Env'], ['A=1']);
  assert.deepEqual(Object.keys(d.config['Labels'] as object), ['a', 'b']);
});
