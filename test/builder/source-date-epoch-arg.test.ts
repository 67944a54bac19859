// SOURCE_DATE_EPOCH as BuildKit's Dockerfile frontend reads it: the build arg, a global ARG default, `context`,
// a source-only stage, and BuildKit's errors for anything else (frontend, pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { resolveStageGraph, sourceDateEpochSource, toStages } from '../../builder/frontend/stages/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

function source(lines: string[], buildArgs: Record<string, string> = {}) {
  const { stages, metaArgs } = toStages(parseDockerfile(lines.join('\n') + '\n', { file: 'Dockerfile' }));
  const g = resolveStageGraph(stages, metaArgs, { buildArgs });
  const declaredAt = metaArgs.find((m) => m.args.some((a) => a.key === 'SOURCE_DATE_EPOCH'))?.location;
  return sourceDateEpochSource({ stages, metaScope: g.metaScope, buildArgs, ...(declaredAt ? { declaredAt } : {}) });
}

function fails(f: () => unknown, message: string, line?: number): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(TsbuildError.is(e));
    assert.ok(e.message.includes(message), e.message);
    if (line !== undefined) assert.equal((e.location as { line: number }).line, line);
    return true;
  });
}

test('the build arg wins over the global ARG; seconds, empty and `context` (a local context has no time)', () => {
  assert.deepEqual(source(['ARG SOURCE_DATE_EPOCH=1700000001', 'FROM scratch']), { kind: 'seconds', seconds: 1700000001 });
  assert.deepEqual(source(['ARG SOURCE_DATE_EPOCH=1', 'FROM scratch'], { SOURCE_DATE_EPOCH: '1700000002' }), { kind: 'seconds', seconds: 1700000002 });
  assert.deepEqual(source(['FROM scratch'], { SOURCE_DATE_EPOCH: '+0042' }), { kind: 'seconds', seconds: 42 });
  assert.equal(source(['ARG SOURCE_DATE_EPOCH=1', 'FROM scratch'], { SOURCE_DATE_EPOCH: '' }), undefined, 'an empty build arg unsets it');
  assert.equal(source(['ARG SOURCE_DATE_EPOCH=context', 'FROM scratch']), undefined);
  assert.equal(source(['ARG SOURCE_DATE_EPOCH', 'FROM scratch']), undefined);
  // an ARG inside a stage is not the global one
  assert.equal(source(['FROM scratch', 'ARG SOURCE_DATE_EPOCH=5']), undefined);
});

test('an invalid value fails with BuildKit\'s text, at the global ARG or naming the build arg', () => {
  fails(() => source(['ARG SOURCE_DATE_EPOCH=not-a-timestamp', 'FROM scratch']), 'invalid SOURCE_DATE_EPOCH: not-a-timestamp', 1);
  fails(() => source(['FROM scratch'], { SOURCE_DATE_EPOCH: '12abc' }), 'invalid SOURCE_DATE_EPOCH: 12abc');
  fails(() => source(['FROM scratch'], { SOURCE_DATE_EPOCH: '-5' }), 'invalid SOURCE_DATE_EPOCH: -5');
});

test('a stage name: FROM scratch, ARGs and one remote ADD give its URL; anything else fails as BuildKit says', () => {
  assert.deepEqual(source(['ARG SOURCE_DATE_EPOCH=MySource', 'FROM scratch AS mysource', 'ARG V=1', 'ADD http://h/src-$V.tar /', 'FROM scratch']),
    { kind: 'url', url: 'http://h/src-1.tar', stage: 'mysource', location: { file: 'Dockerfile', line: 4, endLine: 4 } });
  fails(() => source(['ARG SOURCE_DATE_EPOCH=mysource', 'FROM scratch AS mysource', 'COPY Dockerfile /Dockerfile', 'FROM scratch']),
    'SOURCE_DATE_EPOCH stage does not meet source-only requirements: unsupported copy instruction', 3);
  fails(() => source(['ARG SOURCE_DATE_EPOCH=s', 'FROM busybox AS s', 'ADD http://h/a /']), 'SOURCE_DATE_EPOCH stage must use FROM scratch', 2);
  fails(() => source(['ARG SOURCE_DATE_EPOCH=s', 'FROM scratch AS s', 'ADD http://h/a http://h/b /']), 'exactly one remote ADD source', 3);
  fails(() => source(['ARG SOURCE_DATE_EPOCH=s', 'FROM scratch AS s', 'ADD http://h/a /', 'ADD http://h/b /']), 'exactly one remote ADD', 4);
  fails(() => source(['ARG SOURCE_DATE_EPOCH=s', 'FROM scratch AS s', 'ADD local.tar /']), 'must be a single HTTP(S) or Git ADD', 3);
  fails(() => source(['ARG SOURCE_DATE_EPOCH=s', 'FROM scratch AS s', 'ADD https://github.com/o/r.git#v1 /']), 'from a git source (https://github.com/o/r.git#v1) is not supported by tsbuild', 3);
  fails(() => source(['ARG SOURCE_DATE_EPOCH=s', 'FROM scratch AS s']), 'must contain exactly one remote ADD', 2);
});
