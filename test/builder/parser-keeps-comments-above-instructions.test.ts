/** The parser keeps the comments right above each instruction (BuildKit's PrevComment), as BuildKit collects them. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';

test('comments above an instruction: in order, trimmed; a bare # clears them, blank lines do not; directives are not comments', () => {
  const ast = parseDockerfile([
    '# syntax=docker/dockerfile:1',
    '# escape=\\',
    '#   first  ',
    '',
    '# second',
    'FROM busybox',
    '# dropped',
    '#',
    '# kept',
    'RUN a \\',
    '# inside a continuation: not a comment of anything',
    '  b',
    'RUN c',
    '# x=1 is not a directive after the first instruction',
    'COPY <<EOF /f',
    '# a heredoc body line',
    'EOF',
    '# after the heredoc',
    'CMD ["sh"]',
    '# trailing',
    '',
  ].join('\n'));
  assert.deepEqual(ast.children.map((c) => [c.cmd, c.comments]), [
    ['from', ['first', 'second']],
    ['run', ['kept']],
    ['run', undefined],
    ['copy', ['x=1 is not a directive after the first instruction']],
    ['cmd', ['after the heredoc']],
  ]);
});

test('an unknown directive-like comment at the top is a comment, and ends the directives', () => {
  const ast = parseDockerfile('# foo=bar\n# escape=`\nFROM busybox\n');
  assert.deepEqual(ast.children[0]!.comments, ['foo=bar', 'escape=`']);
  assert.equal(ast.directives.escape, '\\');
});
