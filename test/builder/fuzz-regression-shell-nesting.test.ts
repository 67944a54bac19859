// Fuzz finding: deeply nested ${…} overflowed the JS stack (RangeError) instead of failing with a DockerfileError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandWord, MAX_EXPANSION_DEPTH, parseDockerfile, toStages, resolveStageGraph, stageScope } from '../../builder/frontend/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

test('${X:-${X:-…}} nested thousands deep is an EXPANSION error with the Dockerfile line, not a stack overflow', () => {
  const word = `${'${X/'.repeat(5000)}x`;
  const text = `FROM a\nENV X=${word}\n`;
  const ast = parseDockerfile(text);
  const { stages, metaArgs } = toStages(ast);
  const g = resolveStageGraph(stages, metaArgs, { buildArgs: {} });
  assert.throws(() => stageScope(g.order[0]!.stage, { metaScope: g.metaScope, buildArgs: {} }), (e: unknown) =>
    TsbuildError.is(e) && e.code === 'EXPANSION' && /nested more than/.test(e.message) && e.location !== undefined && 'line' in e.location && e.location.line === 2);
});

test('nesting up to the limit still expands', () => {
  const depth = MAX_EXPANSION_DEPTH;
  const word = `${'${U:-'.repeat(depth)}v${'}'.repeat(depth)}`;
  assert.equal(expandWord(word, {}).value, 'v');
  assert.throws(() => expandWord(`${'${U:-'.repeat(depth + 1)}v${'}'.repeat(depth + 1)}`, {}), (e: unknown) => TsbuildError.is(e) && e.code === 'EXPANSION');
});
