// What a COPY/ADD produces changed for some instructions (created dirs of an octal --chmod, --parents, archives'
// root entry, context sockets): their keys name the revision, so no record made before the change can be hit,
// while every other COPY/ADD keeps its key. And ADD names a download after its URL as written (__unnamed__).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstructionNode } from '../../builder/frontend/parser/ast.js';
import { parseInstruction } from '../../builder/frontend/instructions/index.js';
import { copyKey } from '../../builder/plan/index.js';
import { downloadName } from '../../builder/execute/add.js';

function ins(cmd: 'copy' | 'add', args: string[], flags: string[] = []): Parameters<typeof copyKey>[0] {
  const n: InstructionNode = { cmd, original: `${cmd.toUpperCase()} ${[...flags, ...args].join(' ')}`, flags, args, json: false, heredocs: [], line: 1, endLine: 1 };
  const i = parseInstruction(n, 'Dockerfile');
  assert.ok(i.kind === 'copy' || i.kind === 'add');
  return i;
}

const rev = (k: string): string => / rev=(\S+)$/.exec(k)?.[1] ?? '';

test('copyKey names the copy-rule revisions that apply, and nothing else', () => {
  assert.equal(rev(copyKey(ins('copy', ['a', '/b']), '/', undefined, [])), '');
  assert.equal(rev(copyKey(ins('copy', ['a', '/b'], ['--chmod=u+x']), '/', undefined, [])), '');
  assert.equal(rev(copyKey(ins('add', ['http://h/x', '/b']), '/', undefined, [])), '');
  assert.equal(rev(copyKey(ins('add', ['a.tar', '/b'], ['--unpack=false']), '/', undefined, [])), '');
  assert.equal(rev(copyKey(ins('copy', ['a', '/b'], ['--chmod=750']), '/', undefined, [])), 'chmod-dirs');
  assert.equal(rev(copyKey(ins('copy', ['a/./b', '/c/'], ['--parents']), '/', undefined, [])), 'parents-pivot');
  assert.equal(rev(copyKey(ins('add', ['a.tar', '/b']), '/', undefined, [])), 'archive-root');
  assert.equal(rev(copyKey(ins('add', ['http://h/x.tgz', '/b'], ['--unpack=true']), '/', undefined, [])), 'archive-root');
  assert.equal(rev(copyKey(ins('copy', ['.', '/b']), '/', undefined, [], 'socket:s')), 'special-files:socket:s');
  assert.notEqual(copyKey(ins('copy', ['.', '/b']), '/', undefined, [], 'socket:s'), copyKey(ins('copy', ['.', '/b']), '/', undefined, [], 'fifo:s'));
});

test('downloadName: the last path component of the URL as written, else __unnamed__', () => {
  assert.equal(downloadName('http://h/'), '__unnamed__');
  assert.equal(downloadName('http://h'), '__unnamed__');
  assert.equal(downloadName('http://h/dir/file.tgz?x=1#y'), 'file.tgz');
  assert.equal(downloadName('http://h/dir/'), 'dir');
  assert.equal(downloadName('http://h/a%20b'), 'a b');
  assert.equal(downloadName('http://h/bad%zz'), '__unnamed__');
});
