import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { dumpAst, goQuote, parseDockerfile } from '../../builder/frontend/parser/index.js';

const dump = (src: string) => dumpAst(parseDockerfile(src)).trimEnd().split('\n');

test('empty continuation lines are accepted and recorded as warnings (BuildKit TestParseWarnsOnEmptyContinutationLine)', () => {
  const src = [
    '',
    'FROM alpine:3.6',
    '',
    'RUN valid \\',
    '    continuation',
    '',
    'RUN something \\',
    '',
    '    following \\',
    '',
    '    more',
    '',
    'RUN another \\',
    '',
    '    thing',
    '',
    'RUN non-indented \\',
    '# this is a comment',
    '   after-comment',
    '',
    'RUN indented \\',
    '    # this is an indented comment',
    '    comment',
    '\t',
  ].join('\n');
  const ast = parseDockerfile(src);
  assert.deepEqual(
    ast.warnings.map((w) => [w.message, w.line]),
    [
      ['Empty continuation line found in: RUN something     following     more', 11],
      ['Empty continuation line found in: RUN another     thing', 15],
    ],
  );
  assert.deepEqual(
    ast.children.map((c) => [c.args[0], c.line, c.endLine]),
    [
      ['alpine:3.6', 2, 2],
      ['valid     continuation', 4, 5],
      ['something     following     more', 7, 11],
      ['another     thing', 13, 15],
      ['non-indented    after-comment', 17, 19],
      ['indented     comment', 21, 23],
    ],
  );
});

test('directives are recorded; keywords are case-insensitive; unknown words are kept with one empty argument', () => {
  const ast = parseDockerfile('# syntax = docker/dockerfile:1.7  \n#CHECK=skip=JSONArgsRecommended\nfRoM a\nFROBNICATE x y\nfrobnicate\n');
  assert.deepEqual(ast.directives, { escape: '\\', syntax: 'docker/dockerfile:1.7', check: 'skip=JSONArgsRecommended' });
  assert.deepEqual(dump('fRoM a\nFROBNICATE x y\nmaintainer Me <me@x>\nconstructor x\n__proto__ y\n'), [
    '(from "a")',
    '(frobnicate "")',
    '(maintainer "Me <me@x>")',
    '(constructor "")',
    '(__proto__ "")',
  ]);
});

test('flags are pulled off every instruction, quotes removed and `\\` applied; a bare -- ends them', () => {
  assert.deepEqual(dump(
    [
      'FROM --platform=$BUILDPLATFORM golang AS build',
      'RUN --mount=type=cache,target=/root/.cache --network=none --security=insecure go build',
      'COPY --from=build --chown=1:1 --chmod=755 --link --exclude="*.md" --parents --checksum=sha256:ab src/ /dst/',
      'ADD --keep-git-dir=true --x="a b" --y=a\\ b https://x/y.git /src',
      'HEALTHCHECK --interval=5s --start-interval=1s CMD ["curl", "-f", "http://x"]',
      'COPY -- --notaflag /d',
      'ONBUILD --weird RUN --mount=type=tmpfs,target=/t echo hi',
      'ONBUILD',
    ].join('\n'),
  ), [
    '(from ["--platform=$BUILDPLATFORM"] "golang" "AS" "build")',
    '(run ["--mount=type=cache,target=/root/.cache" "--network=none" "--security=insecure"] "go build")',
    '(copy ["--from=build" "--chown=1:1" "--chmod=755" "--link" "--exclude=*.md" "--parents" "--checksum=sha256:ab"] "src/" "/dst/")',
    '(add ["--keep-git-dir=true" "--x=a b" "--y=a b"] "https://x/y.git" "/src")',
    '(healthcheck ["--interval=5s" "--start-interval=1s"] "CMD" "curl" "-f" "http://x")',
    '(copy "--notaflag" "/d")',
    '(onbuild ["--weird"] (run ["--mount=type=tmpfs,target=/t"] "echo hi"))',
    '(onbuild)',
  ]);
  const onbuild = parseDockerfile('ONBUILD ADD . /app').children[0]!;
  assert.deepEqual([onbuild.next?.cmd, onbuild.next?.args, onbuild.args], ['add', ['.', '/app'], []]);
});

test('exec form vs shell form, with BuildKit fallbacks', () => {
  const ast = parseDockerfile(
    ['RUN ["a", "b"]', "RUN ['a']", 'RUN ["a"', 'RUN ["a"] extra', 'CMD []', 'SHELL ["/bin/sh", "-c"]', 'VOLUME [ "/v" ]', 'VOLUME /a /b', 'ENTRYPOINT'].join('\n'),
  );
  assert.deepEqual(
    ast.children.map((c) => [c.cmd, c.json, c.args]),
    [
      ['run', true, ['a', 'b']],
      ['run', false, ["['a']"]],
      ['run', false, ['["a"']],
      ['run', false, ['["a"] extra']],
      ['cmd', true, []],
      ['shell', true, ['/bin/sh', '-c']],
      ['volume', true, ['/v']],
      ['volume', false, ['/a', '/b']],
      ['entrypoint', false, []],
    ],
  );
});

test('ENV/LABEL triplets, ARG words, backtick escape', () => {
  assert.deepEqual(dump('# escape=`\nENV a=1 b="x y" c=d` e\nLABEL k v w\nARG x y=`"z`" w\nRUN a `\n  b\n'), [
    '(env "a" "1" "=" "b" "\\"x y\\"" "=" "c" "d` e" "=")',
    '(label "k" "v w" "")',
    '(arg "x" "y=`\\"z`\\"" "w")',
    '(run "a   b")',
  ]);
});

test('goQuote matches Go strconv.Quote', () => {
  assert.equal(goQuote('plain'), '"plain"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('\x00\x07\b\f\n\r\t\v\x1b\x7f'), '"\\x00\\a\\b\\f\\n\\r\\t\\v\\x1b\\x7f"');
  assert.equal(goQuote('♥ 한국어 é'), '"♥ 한국어 é"');
  assert.equal(goQuote('\u00a0\u00ad\u2028\ufeff'), '"\\u00a0\\u00ad\\u2028\\ufeff"');
  assert.equal(goQuote('😀\u{e0001}'), '"😀\\U000e0001"');
});
