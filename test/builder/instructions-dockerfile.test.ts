// End to end through the real parser: a realistic Dockerfile becomes typed instructions, and bad ones fail
// with the line of the offending instruction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { parseInstruction } from '../../builder/frontend/instructions/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

const text = [
  '# syntax=docker/dockerfile:1',
  'FROM --platform=$BUILDPLATFORM golang:1.22 AS build',
  'RUN --mount=type=cache,target=/root/.cache/go-build \\',
  '    --mount=type=secret,id=netrc,target=/root/.netrc,required \\',
  '    go build -o /out/app ./cmd/app',
  'COPY --chmod=0644 <<-EOF /etc/app.conf',
  '\tport=8080',
  '\tEOF',
  'FROM gcr.io/distroless/static',
  'COPY --from=build --link /out/app /app',
  'HEALTHCHECK --interval=30s --timeout=3s CMD ["/app", "health"]',
  'ONBUILD COPY . /src',
  'EXPOSE 8080/tcp',
  'ENTRYPOINT ["/app"]',
].join('\n') + '\n';

test('a realistic Dockerfile parses into typed instructions with the right lines', () => {
  const ast = parseDockerfile(text, { file: 'svc/Dockerfile' });
  const ins = ast.children.map((n) => parseInstruction(n, 'svc/Dockerfile'));
  assert.deepEqual(ins.map((i) => i.kind), ['from', 'run', 'copy', 'from', 'copy', 'healthcheck', 'onbuild', 'expose', 'entrypoint']);
  const run = ins[1]!;
  assert.ok(run.kind === 'run');
  if (run.kind !== 'run') return;
  assert.deepEqual(run.location, { file: 'svc/Dockerfile', line: 3, endLine: 5 });
  assert.deepEqual(run.mounts.map((m) => [m.type, m.target, m.required]), [['cache', '/root/.cache/go-build', false], ['secret', '/root/.netrc', true]]);
  assert.deepEqual(run.cmdLine, ['go build -o /out/app ./cmd/app']);
  const copy = ins[2]!;
  assert.deepEqual(copy.kind === 'copy' && copy.sourceContents, [{ path: 'EOF', data: 'port=8080\n', expand: true }]);
  assert.ok(copy.kind === 'copy' && copy.chmod === '0644' && copy.dest === '/etc/app.conf');
  const hc = ins[5]!;
  assert.deepEqual(hc.kind === 'healthcheck' && hc.health.test, ['CMD', '/app', 'health']);
  assert.ok(hc.kind === 'healthcheck' && hc.health.interval === 30e9 && hc.health.timeout === 3e9);
  const ob = ins[6]!;
  assert.ok(ob.kind === 'onbuild' && ob.expression === 'COPY . /src' && ob.trigger.kind === 'copy');
});

test('errors from real Dockerfiles carry the instruction line', () => {
  const cases: [string, string, number][] = [
    ['FROM alpine\n\nCOPPY a b\n', 'DOCKERFILE_UNKNOWN_INSTRUCTION', 3],
    ['FROM alpine\nRUN --mount=type=cache,target=/x \\\n  --mount=type=bogus,target=/y true\n', 'DOCKERFILE_BAD_FLAG', 2],
    ['FROM alpine\nADD --from=x a b\n', 'DOCKERFILE_BAD_FLAG', 2],
    ['FROM alpine\nENV =x\n', 'DOCKERFILE_BAD_ARGUMENT', 2],
    ['FROM alpine\nONBUILD FROM x\n', 'DOCKERFILE_BAD_ARGUMENT', 2],
  ];
  for (const [src, code, line] of cases) {
    const ast = parseDockerfile(src, { file: 'F' });
    assert.throws(() => ast.children.forEach((n) => parseInstruction(n, 'F')), (e: unknown) =>
      TsbuildError.is(e) && e.code === code && (e.location as { line: number }).line === line && (e.hint ?? '') !== '', src);
  }
});
