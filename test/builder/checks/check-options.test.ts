import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ALL_RULES, parseCheckOptions } from '../../../builder/checks/index.js';
import { check, lines } from './helpers.js';

const SRC = 'FROM scratch as base\ncopy a /a\n';

test("the registry has BuildKit's 22 rules, with URLs (InvalidBaseImagePlatform has none, as upstream), and tsbuild's own", () => {
  const bk = ALL_RULES.filter((r) => !r.tsbuild);
  assert.equal(bk.length, 22);
  assert.deepEqual(bk.filter((r) => !r.url).map((r) => r.name), ['InvalidBaseImagePlatform']);
  assert.deepEqual(bk.filter((r) => r.experimental).map((r) => r.name), ['InvalidDefinitionDescription']);
  for (const r of ALL_RULES.filter((x) => x.tsbuild)) assert.ok(r.fix, `${r.name} has a fix`);
});

test('# check=skip=… skips rules; error=true turns warnings into "lint violation found for rules: …"', () => {
  assert.equal(lines(SRC).length, 2);
  assert.deepEqual(lines('#check=skip=all\n' + SRC), []);
  const r = check('#check=skip=ConsistentInstructionCasing;error=true\n' + SRC);
  assert.deepEqual(r.warnings.map((w) => w.ruleName), ['FromAsCasing']);
  assert.equal(r.violation?.message, 'lint violation found for rules: FromAsCasing');
  assert.deepEqual(r.violation?.location, { file: 'Dockerfile', line: 2, endLine: 2 });
  assert.equal(check('#check=skip=all;error=true\n' + SRC).violation, undefined);
});

test('BUILDKIT_DOCKERFILE_CHECK replaces the directive', () => {
  const r = check('#check=skip=all\n' + SRC, { buildArgs: { BUILDKIT_DOCKERFILE_CHECK: 'skip=ConsistentInstructionCasing;error=true' } });
  assert.equal(r.violation?.message, 'lint violation found for rules: FromAsCasing');
  assert.equal(check('#check=error=true\n' + SRC, { buildArgs: { BUILDKIT_DOCKERFILE_CHECK: 'skip=all' } }).violation, undefined);
});

test('a # check= comment before an instruction adds to the options for that instruction only', () => {
  const src = 'FROM scratch\n# check=skip=JSONArgsRecommended // why\nCMD a\nENTRYPOINT b\n';
  assert.deepEqual(check(src).warnings.map((w) => `${w.location.line} ${w.ruleName}`), ['4 JSONArgsRecommended']);
});

test('bad check options fail with BuildKit\'s words', () => {
  assert.throws(() => parseCheckOptions('skip'), /invalid check option "skip"/);
  assert.throws(() => parseCheckOptions('nope=1'), /invalid check option "nope"/);
  assert.throws(() => parseCheckOptions('error=maybe'), /failed to parse check option "error=maybe"/);
  assert.deepEqual([...parseCheckOptions(' skip = A, B ;error=1').skip], ['A', 'B']);
  const r = check('# check=bogus\nFROM scratch\n');
  assert.match(String((r.failure as Error).message), /invalid check option "bogus"/);
});

test('warnings found before a parse error are kept, with the error as the failure', () => {
  const r = check('FROM scratch AS Bad\nMAINTAINER me\nBADCMD\n');
  assert.deepEqual(r.warnings.map((w) => w.ruleName), ['StageNameCasing', 'MaintainerDeprecated']);
  assert.match((r.failure as Error).message, /unknown instruction: BADCMD/);
});
