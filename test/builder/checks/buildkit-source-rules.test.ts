import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { of } from './helpers.js';

test('StageNameCasing: a stage name with capitals', () => {
  assert.deepEqual(of('StageNameCasing', 'FROM scratch AS BadName\nFROM scratch AS good\n'), ["1 StageNameCasing: Stage name 'BadName' should be lowercase"]);
});

test('FromAsCasing: AS in the other case than FROM, either way; a mixed-case FROM is left to ConsistentInstructionCasing', () => {
  assert.deepEqual(of('FromAsCasing', 'FROM scratch as a\nfrom scratch AS b\nFrom scratch as c\nFROM scratch AS d\n'), [
    "1 FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
    "2 FromAsCasing: 'AS' and 'from' keywords' casing do not match",
  ]);
});

test('ConsistentInstructionCasing: keywords against the majority casing (mixed-case ones always)', () => {
  assert.deepEqual(of('ConsistentInstructionCasing', 'FROM scratch\ncopy a /a\nCOPY b /b\nCopy c /c\n'), [
    "2 ConsistentInstructionCasing: Command 'copy' should match the case of the command majority (uppercase)",
    "4 ConsistentInstructionCasing: Command 'Copy' should match the case of the command majority (uppercase)",
  ]);
  assert.deepEqual(of('ConsistentInstructionCasing', 'from scratch\ncopy a /a\nCOPY b /b\n'), [
    "3 ConsistentInstructionCasing: Command 'COPY' should match the case of the command majority (lowercase)",
  ]);
});

test('NoEmptyContinuation: on the last line of the instruction', () => {
  assert.deepEqual(of('NoEmptyContinuation', 'FROM scratch\nCOPY a \\\n\n  /b\n'), ['4 NoEmptyContinuation: Empty continuation line']);
  assert.deepEqual(of('NoEmptyContinuation', 'FROM scratch\nCOPY a \\\n# comment\n  /b\n'), []);
});

test('MaintainerDeprecated', () => {
  assert.deepEqual(of('MaintainerDeprecated', 'FROM scratch\nMAINTAINER me\n'), ['2 MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label']);
});

test('DuplicateStageName and ReservedStageName (case-insensitive names)', () => {
  assert.deepEqual(of('DuplicateStageName', 'FROM scratch AS b\nFROM scratch AS B\n'), ['2 DuplicateStageName: Duplicate stage name "b", stage names should be unique']);
  assert.deepEqual(of('ReservedStageName', 'FROM scratch AS scratch\nFROM scratch AS context\nFROM scratch\n'), [
    '1 ReservedStageName: Stage name should not use the same name as reserved stage "scratch"',
    '2 ReservedStageName: Stage name should not use the same name as reserved stage "context"',
  ]);
});

test('InvalidDefinitionDescription is experimental: off unless enabled, then the last comment must name the ARG or stage', () => {
  const body = '# the base image\nFROM scratch AS base\n# foo: what it is\nARG foo\n# bar what it is\nARG bar\n#\nARG baz\n';
  assert.deepEqual(of('InvalidDefinitionDescription', body), []);
  assert.deepEqual(of('InvalidDefinitionDescription', '# check=experimental=InvalidDefinitionDescription\n' + body), [
    '3 InvalidDefinitionDescription: Comment for FROM should follow the format: `# base <description>`',
    '5 InvalidDefinitionDescription: Comment for ARG should follow the format: `# foo <description>`',
  ]);
  // skip=all does not turn an enabled experimental rule off (BuildKit's order)
  assert.equal(of('InvalidDefinitionDescription', '# check=skip=all;experimental=all\n' + body).length, 2);
});
