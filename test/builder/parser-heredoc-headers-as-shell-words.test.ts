// Heredoc headers are found the way BuildKit's parser finds them: the shell lexer splits the line into words
// (quotes and escapes kept, unset variables left as written, `<<` kept with the blanks after it), and each
// word matching `^(\d*)<<(-?)\s*([^<]*)$` is lexed again, with and without quotes, for its name and expand
// flag. Cases from BuildKit's parser_heredoc_test.go (TestParseHeredocHelpers, TestHeredocsFromLine) and
// lex.go's rules, through tsbuild's one shell lexer.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DockerfileError } from '../../builder/frontend/errors.js';
import { HeredocLexError, heredocsFromLine, parseHeredocWord } from '../../builder/frontend/parser/heredoc.js';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { MAX_EXPANSION_DEPTH } from '../../builder/frontend/shell/index.js';

/** [name, expand, chomp, fd] of every heredoc on the line. */
const headers = (line: string): [string, boolean, boolean, number][] =>
  heredocsFromLine(line).map((h) => [h.name, h.expand, h.chomp, h.fileDescriptor]);

test('one word: BuildKit TestParseHeredocHelpers (valid, unterminated quotes, not heredocs)', () => {
  for (const w of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"', '<<EO"F"', '<< EOF', '<<- EOF']) {
    assert.equal(parseHeredocWord(w)?.name, 'EOF', w);
  }
  for (const w of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) {
    assert.throws(() => parseHeredocWord(w), (e: unknown) =>
      e instanceof HeredocLexError && /^unexpected end of statement while looking for matching (single|double)-quote$/.test(e.message), w);
  }
  for (const w of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) assert.equal(parseHeredocWord(w), undefined, w);
});

test('one line: BuildKit TestHeredocsFromLine', () => {
  const names = (line: string): string[] => headers(line).map((h) => h[0]);
  assert.deepEqual(names('RUN <<EOF'), ['EOF']);
  assert.deepEqual(names('RUN <<-EOF'), ['EOF']);
  assert.deepEqual(names('RUN << -EOF'), ['-EOF']);
  assert.deepEqual(names("RUN <<'EOF'"), ['EOF']);
  assert.deepEqual(names('RUN 4<<EOF'), ['EOF']);
  assert.deepEqual(names('RUN <<EOF <<EOF2'), ['EOF', 'EOF2']);
  assert.deepEqual(names("RUN '<<EOF'"), []);
  assert.deepEqual(names('RUN "<<EOF"'), []);
  // BuildKit's table lists "EOF" for `RUN <<- EOF`, but its loop only checks the heredocs found, and the
  // lexer finds none: `<<-` and `EOF` are two words (only blanks right after `<<` join the word).
  assert.deepEqual(names('RUN <<- EOF'), []);
});

test('quotes and escapes in the name: removed from the name, and any quoting turns expansion off', () => {
  assert.deepEqual(headers('RUN <<"E\\"OF"'), [['E"OF', false, false, 0]]);
  assert.deepEqual(headers(`RUN <<"E"'O'F`), [['EOF', false, false, 0]]);
  assert.deepEqual(headers(`RUN <<'EOF'"x"`), [['EOFx', false, false, 0]]);
  assert.deepEqual(headers('RUN <<E\\ OF'), [['E OF', true, false, 0]]); // an escaped blank does not split
  assert.deepEqual(headers('RUN <<EO\\\\F'), [['EO\\F', true, false, 0]]);
  assert.deepEqual(headers('RUN \\<<EOF'), []); // an escaped `<` starts no heredoc
  assert.deepEqual(headers('RUN <<\tEOF'), [['EOF', true, false, 0]]);
  assert.deepEqual(headers('RUN 12<<-EOF'), [['EOF', true, true, 12]]);
  assert.deepEqual(headers('RUN <<EOF<<EOF2'), []); // one word with a second `<`: not a heredoc
});

test('$-words: unset variables stay as written in the name; only quotes turn expansion off', () => {
  assert.deepEqual(headers('RUN <<$EOF'), [['$EOF', true, false, 0]]);
  assert.deepEqual(headers('RUN <<\\$EOF'), [['$EOF', true, false, 0]]);
  assert.deepEqual(headers('RUN <<EOF$'), [['EOF$', true, false, 0]]);
  assert.deepEqual(headers('RUN <<E${X}OF'), [['E${X}OF', true, false, 0]]);
  assert.deepEqual(headers('RUN <<E"${X}"OF'), [['E${X}OF', false, false, 0]]);
  assert.deepEqual(headers('RUN <<"$X"'), [['$X', false, false, 0]]);
  assert.deepEqual(headers("RUN <<'$(x)'"), [['$(x)', false, false, 0]]);
  assert.deepEqual(headers('RUN <<${X:-\\}}'), [['${X:-}}', true, false, 0]]); // `\}` inside ${…} loses its escape
  // Go reads runes: a letter outside the BMP is part of a variable name.
  assert.deepEqual(headers('RUN <<EOF ${\u{1d400}}'), [['EOF', true, false, 0]]);
});

test('a $-word splits on its unquoted blanks, so a header cut inside ${…} is an invalid heredoc', () => {
  // `${X:-"a b"}` is left as written and then split: the header word is `<<${X:-"a`, whose name does not lex.
  assert.throws(() => parseDockerfile('FROM a\nRUN <<${X:-"a b"}\nx\n'), (e: unknown) =>
    e instanceof DockerfileError && e.code === 'DOCKERFILE_SYNTAX' && /^invalid heredoc: syntax error: missing '}'/.test(e.message));
});

test('a line the shell lexer rejects has no heredocs (heredocsFromLine ignores the lexer error)', () => {
  assert.deepEqual(headers("RUN <<EOF 'x"), []);
  assert.deepEqual(headers('RUN <<EOF ${A:#x}'), []); // lex.go: `:` before `#`/`%` is an unsupported modifier
  const deep = `RUN <<EOF ${'${X:-'.repeat(MAX_EXPANSION_DEPTH + 1)}v${'}'.repeat(MAX_EXPANSION_DEPTH + 1)}`;
  assert.deepEqual(headers(deep), []);
  // thousands deep is the same answer, not a stack overflow
  const ast = parseDockerfile(`FROM a\nRUN <<EOF ${'${X:-'.repeat(5000)}v${'}'.repeat(5000)}\n`);
  assert.deepEqual(ast.children.map((c) => c.heredocs.length), [0, 0]);
});

test('the heredoc scan escapes with \\ whatever the escape directive says, as BuildKit does', () => {
  const ast = parseDockerfile('# escape=`\nFROM a\nRUN <<E\\ OF\nbody\nE OF\n');
  assert.deepEqual(ast.children[1]!.heredocs.map((h) => [h.name, h.content]), [['E OF', 'body\n']]);
});
