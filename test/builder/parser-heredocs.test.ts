import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DockerfileError } from '../../builder/frontend/errors.js';
import { chompHeredocContent, dumpAst, parseDockerfile, type Heredoc } from '../../builder/frontend/parser/index.js';

type H = Partial<Heredoc> & { name: string; content: string };
const h = (name: string, content: string, o: Partial<Heredoc> = {}): H => ({ name, content, expand: true, chomp: false, ...o });

function docs(src: string): Heredoc[][] {
  return parseDockerfile(src).children.map((c) => [...c.heredocs]);
}

// BuildKit's TestParseExtractsHeredoc corpus (parser_heredoc_test.go), restated.
test('heredoc corpus: names, bodies, expand, chomp and file descriptors', () => {
  const src = [
    'FROM alpine:3.6',
    'RUN ls',
    'USER <<INVALID',
    'RUN <<EMPTY',
    'EMPTY',
    'RUN 3<<EMPTY2',
    'EMPTY2',
    'RUN "<<NOHEREDOC"',
    'RUN <<INDENT',
    '\tfoo',
    '\tbar',
    'INDENT',
    'RUN <<-UNINDENT',
    '\tbaz',
    '\tquux',
    '\tUNINDENT',
    "RUN <<-'NOEXPAND'",
    "\tdon't expand $NAME",
    'NOEXPAND',
    'RUN <<COMMENT',
    '# internal comment',
    'echo foo bar # trailing comment',
    'COMMENT',
    'RUN --mount=type=cache,target=/foo <<MOUNT',
    'echo hello',
    'MOUNT',
    'COPY <<FILE1 <<FILE2 /dest',
    'content 1',
    'FILE1',
    'content 2',
    'FILE2',
    'COPY <<X <<Y /dest',
    'Y',
    'X',
    'X',
    'Y',
    'RUN <<COMPLEX python3',
    "print('hello world')",
    'COMPLEX',
    'COPY <<file.txt /dest',
    'hello world',
    'file.txt',
    "RUN <<eo'f'",
    'echo foo',
    'eof',
    "RUN <<eo\\'f",
    'echo foo',
    "eo'f",
    "RUN <<'e'o\\'f",
    'echo foo',
    "eo'f",
    "RUN <<'one two'",
    'echo bar',
    'one two',
    'RUN <<$EOF',
    '$EOF',
    'RUN <<  EOF',
    'EOF',
    'RUN <<  EOF  > foo',
    'EOF',
    '',
  ].join('\n');
  assert.deepEqual(docs(src), [
    [],
    [],
    [], // USER <<INVALID: not a heredoc instruction, and the next line is an instruction again
    [h('EMPTY', '')],
    [h('EMPTY2', '', { fileDescriptor: 3 })],
    [], // a quoted word is not a heredoc
    [h('INDENT', '\tfoo\n\tbar\n')],
    [h('UNINDENT', '\tbaz\n\tquux\n', { chomp: true })],
    [h('NOEXPAND', "\tdon't expand $NAME\n", { chomp: true, expand: false })],
    [h('COMMENT', '# internal comment\necho foo bar # trailing comment\n')],
    [h('MOUNT', 'echo hello\n')],
    [h('FILE1', 'content 1\n'), h('FILE2', 'content 2\n')],
    [h('X', 'Y\n'), h('Y', 'X\n')],
    [h('COMPLEX', "print('hello world')\n")],
    [h('file.txt', 'hello world\n')],
    [h('eof', 'echo foo\n', { expand: false })],
    [h("eo'f", 'echo foo\n')],
    [h("eo'f", 'echo foo\n', { expand: false })],
    [h('one two', 'echo bar\n', { expand: false })],
    [h('$EOF', '')],
    [h('EOF', '')],
    [h('EOF', '')],
  ]);
});

test('heredocs only on shell-form RUN, COPY and ADD (and inside ONBUILD)', () => {
  const ast = parseDockerfile(
    ['FROM a', 'ADD <<A /a', 'x', 'A', 'ONBUILD RUN <<B', 'y', 'B', 'RUN ["<<C"]', 'COPY ["<<D", "/d"]', 'USER <<E', 'CMD <<F', 'LABEL x=<<G', "RUN '<<H'", ''].join('\n'),
  );
  const byCmd = ast.children.map((c) => [c.cmd, c.heredocs.map((d) => d.name)]);
  assert.deepEqual(byCmd, [
    ['from', []],
    ['add', ['A']],
    ['onbuild', ['B']],
    ['run', []],
    ['copy', []],
    ['user', []],
    ['cmd', []],
    ['label', []],
    ['run', []],
  ]);
  const onbuild = ast.children[2]!;
  assert.equal(onbuild.next?.cmd, 'run');
  assert.deepEqual(onbuild.next?.heredocs.map((d) => d.content), ['y\n']);
  // JSON form: the "<<C" stays an argument and the following lines are instructions.
  assert.deepEqual(ast.children[3]!.args, ['<<C']);
  assert.equal(ast.children[3]!.json, true);
});

test('<<-NAME: the terminator may be tab-indented, the body keeps its tabs until chomped', () => {
  const [, run] = parseDockerfile('FROM a\nRUN <<-EOT\n\t\techo hi\n\tEOT\n').children;
  assert.deepEqual(run!.heredocs, [h('EOT', '\t\techo hi\n', { chomp: true })]);
  assert.equal(chompHeredocContent(run!.heredocs[0]!.content), 'echo hi\n');
  // Without "-", a tab-indented terminator is body text, so the heredoc is unterminated.
  assert.throws(() => parseDockerfile('FROM a\nRUN <<EOT\n\techo hi\n\tEOT\n'), DockerfileError);
});

test('N<<NAME sets the file descriptor and "<< NAME" allows blanks before the name', () => {
  const [, a, b, c] = parseDockerfile('FROM a\nRUN 5<<IN cat <&5\nx\nIN\nRUN << \tSP\ny\nSP\nRUN <<- TAB\nz\n').children;
  assert.deepEqual(a!.heredocs, [h('IN', 'x\n', { fileDescriptor: 5 })]);
  assert.deepEqual(b!.heredocs, [h('SP', 'y\n')]);
  // "<<-" followed by a blank is two words: not a heredoc (as BuildKit), so "z" is an instruction.
  assert.deepEqual(c!.heredocs, []);
  assert.equal(parseDockerfile('FROM a\nRUN <<- TAB\nz\n').children.length, 3);
});

test('several heredocs on one line are read one after another, each to its own terminator', () => {
  const ast = parseDockerfile('FROM a\nCOPY <<ONE <<TWO <<THREE /dst/\n1\nONE\n2a\n2b\nTWO\nTHREE\nRUN true\n');
  const copy = ast.children[1]!;
  assert.deepEqual(copy.heredocs, [h('ONE', '1\n'), h('TWO', '2a\n2b\n'), h('THREE', '')]);
  assert.deepEqual(copy.args, ['<<ONE', '<<TWO', '<<THREE', '/dst/']);
  assert.deepEqual([copy.line, copy.endLine], [2, 8]);
  assert.deepEqual([ast.children[2]!.cmd, ast.children[2]!.line], ['run', 9]);
});

test('quoting any part of the name turns expansion off; escaped quotes and $ are part of the name', () => {
  const names = (line: string, body: string) => parseDockerfile(`FROM a\n${line}\n${body}\n`).children[1]!.heredocs.map((d) => [d.name, d.expand]);
  assert.deepEqual(names(`RUN <<'EOF'`, 'EOF'), [['EOF', false]]);
  assert.deepEqual(names('RUN <<"EOF"', 'EOF'), [['EOF', false]]);
  assert.deepEqual(names(`RUN <<EO"F"`, 'EOF'), [['EOF', false]]);
  assert.deepEqual(names(`RUN <<eo\\'f`, "eo'f"), [["eo'f", true]]);
  assert.deepEqual(names('RUN <<$EOF', '$EOF'), [['$EOF', true]]);
  assert.deepEqual(names('RUN <<${X:-y}', '${X:-y}'), [['${X:-y}', true]]);
});

test('body: every line with its newline, CRLF kept, empty body is "", no newline after a final unterminated line', () => {
  const crlf = parseDockerfile('FROM a\r\nRUN <<EOF\r\nline1\r\nEOF\r\n').children[1]!;
  assert.deepEqual(crlf.heredocs, [h('EOF', 'line1\r\n')]);
  const empty = parseDockerfile('FROM a\nRUN <<EOF\nEOF').children[1]!;
  assert.deepEqual(empty.heredocs, [h('EOF', '')]);
  const noNl = parseDockerfile('FROM a\nCOPY <<A <<B /x\na\nA\nb\nB').children[1]!;
  assert.deepEqual(noNl.heredocs, [h('A', 'a\n'), h('B', 'b\n')]);
  // The dump (BuildKit format) shows only the <<WORD, never the body.
  assert.equal(dumpAst(parseDockerfile('FROM a\nRUN <<EOF\necho hi\nEOF\n')), '(from "a")\n(run "<<EOF")\n');
});

test('a missing terminator is an "unterminated heredoc" error at the instruction line', () => {
  assert.throws(
    () => parseDockerfile('FROM a\nRUN <<EOF\necho hi\n', { file: 'df' }),
    (e: unknown) => {
      assert.ok(e instanceof DockerfileError);
      assert.match(e.message, /unterminated heredoc/);
      assert.deepEqual(e.location, { file: 'df', line: 2, endLine: 3 });
      assert.match(e.hint ?? '', /EOF/);
      return true;
    },
  );
});
