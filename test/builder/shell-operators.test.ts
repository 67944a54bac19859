// The ${VAR op word} operators, pattern removal/substitution, and used/unset reporting (BuildKit's Go-only cases).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandWord as expand, processWord, processWords } from '../../builder/frontend/shell/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

type Case = [input: string, env: Record<string, string>, expected: string | Error, referenced?: string[], unset?: string[]];
const ERR = new Error('expected error');
const FB = { FOO: 'xxx', BAR: '' };

const cases: Case[] = [
  ['x', { DUMMY: 'dummy' }, 'x', [], []],
  ['x ${UNUSED}', { DUMMY: 'dummy' }, 'x ', [], ['UNUSED']],
  ['x ${FOO}', { FOO: 'y' }, 'x y', ['FOO'], []],
  ['${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', FB, 'xxx  ccc', ['FOO', 'BAR'], ['BAZ']],
  ['${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', FB, 'xxx bbb ccc', ['FOO', 'BAR'], ['BAZ']],
  ['${FOO:-}', FB, 'xxx', ['FOO'], []],
  ['${FOO:-}', {}, '', [], ['FOO']],
  ['${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', FB, 'aaa bbb ', ['FOO', 'BAR'], ['BAZ']],
  ['${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', FB, 'aaa  ', ['FOO', 'BAR'], ['BAZ']],
  ['${FOO?aaa}', FB, 'xxx', ['FOO'], []],
  ['${BAR?bbb}', FB, '', ['BAR'], []],
  ['${BAZ?ccc}', FB, ERR],
  ['${FOO:?aaa}', FB, 'xxx', ['FOO'], []],
  ['${BAR:?bbb}', FB, ERR],
  ['${BAZ:?ccc}', FB, ERR],
  ['${BAZ:?}', FB, ERR],
  ['${FOO=aaa}', FB, ERR],
  ['${FOO=:aaa}', FB, ERR],
  ['${FOO=}', {}, ERR],
  ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x', ['FOO'], []],
  ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx', ['FOO'], []],
  ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y', ['FOO'], []],
  ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy', ['FOO'], []],
  ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy', ['FOO', 'BAR'], []],
  ['${FOO#$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy', ['FOO', 'BAR'], []],
  ['${FOO#}', { FOO: 'xxyy' }, 'xxyy', ['FOO'], []],
  ['${FOO##*x}', { FOO: 'xxyy' }, 'yy', ['FOO'], []],
  ['${FOO##}', { FOO: 'xxyy' }, 'xxyy', ['FOO'], []],
  ['${FOO#?\\?}', { FOO: '???y' }, '?y', ['FOO'], []],
  ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.', ['FOO'], ['ABC']],
  ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a', ['FOO'], []],
  ['${FOO%}', { FOO: 'xxyy' }, 'xxyy', ['FOO'], []],
  ['${FOO%y*}', { FOO: 'xxyy' }, 'xxy', ['FOO'], []],
  ['${FOO%%y*}', { FOO: 'xxyy' }, 'xx', ['FOO'], []],
  ['${FOO%%$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy', ['FOO', 'BAR'], []],
  ['${FOO:#}', {}, ERR],
  ['${FOO:##}', {}, ERR],
  ['${FOO:%}', {}, ERR],
  ['${FOO:%%}', {}, ERR],
  ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt', ['FOO', 'NEEDLE'], []],
  ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt', ['FOO', 'NEEDLE'], []],
  ['${FOO/$N/$R} - ${FOO//$N/$R}', { FOO: '/a/foo/b/c.txt', N: '/?/', R: '/' }, '/foo/b/c.txt - /foo/c.txt', ['FOO', 'N', 'R'], []],
  ['${FOO/$N/$R}', { FOO: 'http://google.de', N: 'http://', R: 'https://' }, 'https://google.de', ['FOO', 'N', 'R'], []],
  ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt', ['FOO'], []],
  ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy', ['FOO', 'BAR'], []],
  ['${FOO//ww}', { FOO: 'xxyy' }, ERR],
  ['${FOO//}', { FOO: 'xxyy' }, ERR],
  ['${FOO///}', { FOO: 'xxyy' }, 'xxyy', ['FOO'], []],
  ['${FOO///}', {}, '', [], ['FOO']],
  ['${FOO#\\x}', { FOO: 'x' }, ERR], // invalid escape in a pattern
  ['${XXX:-${PWD:-yyy}}', { PWD: '/home' }, '/home', ['PWD'], ['XXX']],
  ['a${TARGETVARIANT:+-${TARGETVARIANT}}b', { TARGETVARIANT: 'v7' }, 'a-v7b', ['TARGETVARIANT'], []],
  ['a${TARGETVARIANT:+-${TARGETVARIANT}}b', { TARGETVARIANT: '' }, 'ab', ['TARGETVARIANT'], []],
];

test('every ${VAR op word} case expands as BuildKit does and reports used/unset variables', () => {
  for (const [input, env, expected, referenced, unset] of cases) {
    if (expected instanceof Error) {
      assert.throws(() => expand(input, env), (e: unknown) => TsbuildError.is(e) && e.code === 'EXPANSION', input);
      continue;
    }
    const r = expand(input, env);
    assert.equal(r.value, expected, input);
    assert.deepEqual([...r.referenced].sort(), [...(referenced ?? [])].sort(), `${input}: referenced`);
    assert.deepEqual([...r.unset].sort(), [...(unset ?? [])].sort(), `${input}: unset`);
  }
});

test('${VAR:?msg} with VAR unset or empty fails with the expanded message', () => {
  const msg = '${VAR:?message here$ARG}';
  assert.equal(processWord(msg, { VAR: 'plain', ARG: 'x' }), 'plain');
  for (const env of [{ VAR: '', ARG: 'x' }, { ARG: 'x' }]) {
    assert.throws(() => processWord(msg, env), (e: unknown) => TsbuildError.is(e) && e.code === 'EXPANSION' && /VAR: message herex/.test(e.message) && e.location === undefined);
  }
  assert.equal(processWord('${VAR?m}', { VAR: '' }), '');
  assert.throws(() => processWord('${VAR?message here$ARG}', { ARG: 'x' }), /message herex/);
});

test('the backtick escape token escapes like a backslash and leaves backslashes literal', () => {
  assert.equal(processWord('a`$b', {}, { escapeToken: '`' }), 'a$b');
  assert.equal(processWord('C:\\path\\$X', { X: 'y' }, { escapeToken: '`' }), 'C:\\path\\y');
  assert.deepEqual(processWords('a` b c', {}, { escapeToken: '`' }), ['a b', 'c']);
});

test('options: skipUnsetEnv keeps unset references; rawQuotes keeps quotes; Map and record envs agree', () => {
  assert.equal(processWord('$A ${B} ${C:-x} $D', { D: 'd' }, { skipUnsetEnv: true }), '$A ${B} ${C:-x} d');
  assert.equal(processWord(`"a b" 'c'`, {}, { rawQuotes: true }), `"a b" 'c'`);
  assert.equal(processWord('$constructor', {}), ''); // prototype keys are not variables
  assert.equal(processWord('$X-$Y', new Map([['X', '1'], ['Y', '2']])), '1-2');
});
