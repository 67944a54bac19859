import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DockerfileError } from '../../builder/frontend/errors.js';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';

/** Asserts that parsing fails with a DockerfileError of `code` at `line` (and `endLine`), with a hint. */
function fails(input: string | Uint8Array, code: string, line: number, message: RegExp, endLine?: number): DockerfileError {
  let caught: unknown;
  try {
    parseDockerfile(input, { file: 'ctx/Dockerfile' });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DockerfileError, `expected a DockerfileError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, message);
  const loc = caught.location;
  assert.ok(loc !== undefined && 'file' in loc);
  assert.equal(loc.file, 'ctx/Dockerfile');
  assert.equal(loc.line, line);
  if (endLine !== undefined) assert.equal(loc.endLine, endLine);
  assert.ok((caught.hint ?? '').length > 10, 'a hint saying what to do');
  return caught;
}

test('unterminated heredoc: error at the instruction, spanning to the end of file', () => {
  fails('FROM a\n\nRUN <<EOF\necho hi\necho there\n', 'DOCKERFILE_SYNTAX', 3, /unterminated heredoc/, 5);
  // the second of two heredocs missing its terminator
  fails('FROM a\nCOPY <<A <<B /x\na\nA\nb\n', 'DOCKERFILE_SYNTAX', 2, /unterminated heredoc B/, 5);
});

test('bad escape directive value', () => {
  const e = fails('# syntax=docker/dockerfile:1\n# escape=x\nFROM a\n', 'DOCKERFILE_SYNTAX', 2, /invalid escape token 'x'/);
  assert.match(e.hint ?? '', /escape=`/);
});

test('duplicate parser directive', () => {
  fails('# escape=`\n# ESCAPE=\\\nFROM a\n', 'DOCKERFILE_SYNTAX', 2, /only one escape parser directive/);
  fails('#syntax=a\n#check=skip=all\n# syntax = b\nFROM a\n', 'DOCKERFILE_SYNTAX', 3, /only one syntax parser directive/);
  // after a non-directive line, a directive-looking comment is only a comment
  const ast = parseDockerfile('# escape=`\n# hello\n# escape=\\\nFROM a\n');
  assert.equal(ast.directives.escape, '`');
});

test('non-UTF-8 bytes: DOCKERFILE_ENCODING at the line of the first bad byte', () => {
  const bytes = Buffer.concat([Buffer.from('FROM a\nRUN echo caf'), Buffer.from([0xe9]), Buffer.from('\nRUN x\n')]);
  fails(bytes, 'DOCKERFILE_ENCODING', 2, /invalid UTF-8/);
  fails(Buffer.from([0x46, 0x52, 0x4f, 0x4d, 0x20, 0xc0, 0x80]), 'DOCKERFILE_ENCODING', 1, /invalid UTF-8/); // overlong
  fails(Buffer.from('FROM a\n\n\nLABEL x=\xed\xa0\x80\n', 'latin1'), 'DOCKERFILE_ENCODING', 4, /invalid UTF-8/); // surrogate
  // a BOM and valid multi-byte text are fine
  const ok = parseDockerfile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('FROM a\nLABEL k=한국어\n')]));
  assert.deepEqual(ok.children[1]!.args, ['k', '한국어', '=']);
});

test('no instructions: empty, blank-only, comment-only files', () => {
  fails('', 'DOCKERFILE_SYNTAX', 1, /file with no instructions/);
  fails('\n\n   \n', 'DOCKERFILE_SYNTAX', 3, /file with no instructions/);
  fails('# syntax=docker/dockerfile:1\n# just a comment\n\n', 'DOCKERFILE_SYNTAX', 3, /file with no instructions/);
});

test('a physical line over 65,535 bytes', () => {
  const long = 'RUN echo ' + 'x'.repeat(65535);
  fails(`FROM a\n${long}\n`, 'DOCKERFILE_SYNTAX', 2, /greater than max allowed size of 65535/);
  // exactly 65,535 bytes (multi-byte characters counted as bytes) is accepted
  const edge = 'RUN ' + 'é'.repeat((65535 - 5) / 2) + 'x';
  assert.equal(Buffer.byteLength(edge), 65535);
  assert.equal(parseDockerfile(`FROM a\n${edge}\n`).children.length, 2);
  fails(`FROM a\n${edge}y\n`, 'DOCKERFILE_SYNTAX', 2, /max allowed size/);
});

test('JSON arrays holding non-strings, ENV/LABEL without values', () => {
  fails('FROM a\nCMD [ "echo", [ "nested json" ] ]\n', 'DOCKERFILE_BAD_ARGUMENT', 2, /arrays must be comprised of strings only/);
  fails('FROM a\nCOPY ["a", 1, "/b"]\n', 'DOCKERFILE_BAD_ARGUMENT', 2, /strings only/);
  fails('FROM a\nENV PATH\n', 'DOCKERFILE_BAD_ARGUMENT', 2, /ENV must have two arguments/);
  fails('FROM a\nLABEL a=b \\\n  c\n', 'DOCKERFILE_BAD_ARGUMENT', 2, /can't find = in "c"/, 3);
});
