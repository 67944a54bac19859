import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ContextMatcher, parseDockerignore } from '../../../builder/context/index.js';
import { check, of } from './helpers.js';

test('UndefinedVar: unset variables in expanded fields, with a suggestion; ARG without value, base env and RUN are fine', () => {
  const src = 'FROM busybox\nARG foo\nARG DIR_ASSETS=a\nCOPY $foo $DIR_ASSET /x/\nENV PATH=$PAHT:/bin\nRUN echo $nothing\nWORKDIR $JAVA_HOME\n';
  const bases = new Map([['busybox', { env: ['JAVA_HOME=/opt/java'], shell: false, user: '' }]]);
  assert.deepEqual(of('UndefinedVar', src, { bases }), [
    "4 UndefinedVar: Usage of undefined variable '$DIR_ASSET' (did you mean $DIR_ASSETS?)",
    "5 UndefinedVar: Usage of undefined variable '$PAHT' (did you mean $PATH?)",
  ]);
});

test('UndefinedVar: RUN reports only its --mount values', () => {
  assert.deepEqual(of('UndefinedVar', 'FROM scratch\nARG CACHE=/c\nRUN --mount=type=cache,target=$CACHE,id=$CACHE_ID echo $UNSEEN\n'), [
    "3 UndefinedVar: Usage of undefined variable '$CACHE_ID'",
  ]);
});

test('UndefinedVar: a build only reports the stages it builds; a check without a target reports all', () => {
  const src = 'FROM scratch AS first\nCOPY $foo .\nFROM scratch AS second\nCOPY $bar .\n';
  assert.deepEqual(of('UndefinedVar', src, { allStages: false }), ["4 UndefinedVar: Usage of undefined variable '$bar'"]);
  assert.equal(of('UndefinedVar', src).length, 2);
  assert.deepEqual(of('UndefinedVar', src, { allStages: false, target: 'first' }), ["2 UndefinedVar: Usage of undefined variable '$foo'"]);
});

test('LegacyKeyValueFormat: ENV and LABEL with a space instead of =', () => {
  assert.deepEqual(of('LegacyKeyValueFormat', 'FROM scratch\nENV k v\nLABEL k v\nENV a=b\n'), [
    '2 LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format',
    '3 LegacyKeyValueFormat: "LABEL key=value" should be used instead of legacy "LABEL key value" format',
  ]);
});

test('SecretsUsedInArgOrEnv: names with a secret word as a whole _-separated part, not public/file/version ones', () => {
  assert.deepEqual(of('SecretsUsedInArgOrEnv', 'FROM scratch\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x tokenizer=y\nARG PUBLIC_KEY\nARG AUTH_VERSION\n'), [
    '2 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")',
    '3 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
  ]);
});

test('JSONArgsRecommended: shell-form CMD/ENTRYPOINT unless the stage (or the stage it is FROM) sets SHELL', () => {
  assert.deepEqual(of('JSONArgsRecommended', 'FROM scratch\nCMD run\nENTRYPOINT ["x"]\n'), ['2 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals']);
  assert.deepEqual(of('JSONArgsRecommended', 'FROM scratch AS a\nSHELL ["/bin/x"]\nFROM a\nENTRYPOINT run\n'), []);
});

test('MultipleInstructionsDisallowed: the earlier CMD/ENTRYPOINT/HEALTHCHECK of a stage is reported', () => {
  assert.deepEqual(of('MultipleInstructionsDisallowed', 'FROM scratch\nCMD ["a"]\nRUN x\nCMD ["b"]\nFROM scratch\nCMD ["c"]\n'), [
    '2 MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used',
  ]);
});

test('WorkdirRelativePath: only the first WORKDIR of a line of stages, when relative', () => {
  assert.deepEqual(of('WorkdirRelativePath', 'FROM scratch\nWORKDIR app\nWORKDIR sub\n'), ['2 WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes']);
  assert.deepEqual(of('WorkdirRelativePath', 'FROM scratch AS a\nWORKDIR /app\nFROM a\nWORKDIR sub\n'), []);
});

test('CopyIgnoredFile: a context source .dockerignore excludes; not with ! exceptions, not for --from', () => {
  const ignore = new ContextMatcher(parseDockerignore('secret\nbuild/\n'));
  assert.deepEqual(of('CopyIgnoredFile', 'FROM scratch AS a\nCOPY secret /s\nADD build/out /o\nCOPY --from=a secret /t\nCOPY ok /ok\n', { ignore }), [
    '2 CopyIgnoredFile: Attempting to Copy file "secret" that is excluded by .dockerignore',
    '3 CopyIgnoredFile: Attempting to Add file "build/out" that is excluded by .dockerignore',
  ]);
  assert.deepEqual(of('CopyIgnoredFile', 'FROM scratch\nCOPY secret /s\n', { ignore: new ContextMatcher(parseDockerignore('secret\n!x\n')) }), []);
});

test('ExposeProtoCasing and ExposeInvalidFormat, per port', () => {
  assert.deepEqual(check('FROM scratch\nEXPOSE 80/TCP 1.2.3.4:80:80 8080:80 443\n').warnings.map((w) => w.detail).sort(), [
    "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
    "EXPOSE instruction should not define an IP address or host-port mapping, found '1.2.3.4:80:80'",
    "EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'",
  ]);
});
