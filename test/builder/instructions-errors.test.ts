// Bad instructions, flags and arguments fail with DockerfileError codes, a hint and {file,line}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstructionNode } from '../../builder/frontend/parser/ast.js';
import { parseInstruction } from '../../builder/frontend/instructions/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

function node(cmd: string, args: string[], o: Partial<InstructionNode> = {}): InstructionNode {
  return { cmd, original: `${cmd.toUpperCase()} ${args.join(' ')}`, flags: [], args, json: false, heredocs: [], line: 7, endLine: 7, ...o };
}

function fails(n: InstructionNode, code: string, message: RegExp, hint?: RegExp): void {
  assert.throws(() => parseInstruction(n, 'ctx/Dockerfile'), (e: unknown) => {
    assert.ok(TsbuildError.is(e), 'a TsbuildError');
    assert.equal(e.code, code);
    assert.match(e.message, message);
    if (hint !== undefined) assert.match(e.hint ?? '', hint);
    assert.deepEqual(e.location, { file: 'ctx/Dockerfile', line: 7, endLine: 7 });
    return true;
  });
}

test('unknown instruction suggests the closest one', () => {
  fails(node('cpoy', ['a', 'b']), 'DOCKERFILE_UNKNOWN_INSTRUCTION', /unknown instruction: CPOY/, /did you mean COPY\?/);
  fails(node('entrypont', ['a']), 'DOCKERFILE_UNKNOWN_INSTRUCTION', /ENTRYPONT/, /ENTRYPOINT/);
  fails(node('frobnicate', ['']), 'DOCKERFILE_UNKNOWN_INSTRUCTION', /FROBNICATE/, /instructions are FROM, RUN/);
});

test('unknown flags and flags on the wrong instruction name the allowed flags', () => {
  fails(node('copy', ['a', 'b'], { flags: ['--form=x'] }), 'DOCKERFILE_BAD_FLAG', /^unknown flag: --form \(did you mean from\?\)$/, /COPY accepts --exclude/);
  fails(node('add', ['a', 'b'], { flags: ['--from=x'] }), 'DOCKERFILE_BAD_FLAG', /^unknown flag: --from$/, /--from is a flag of COPY.*ADD accepts --exclude, --chown, --chmod, --link, --keep-git-dir, --checksum, --unpack/);
  fails(node('run', ['x'], { flags: ['--platform=linux/amd64'] }), 'DOCKERFILE_BAD_FLAG', /^unknown flag: --platform$/, /flag of FROM/);
  fails(node('workdir', ['/x'], { flags: ['--chown=1'] }), 'DOCKERFILE_BAD_FLAG', /^unknown flag: --chown$/, /WORKDIR accepts no flags/);
  fails(node('env', ['A', '1', '='], { flags: ['--x'] }), 'DOCKERFILE_BAD_FLAG', /unknown flag: --x/, /ENV accepts no flags/);
});

test('flag values follow bflag rules: string needs =value, bool takes true/false, no duplicates', () => {
  fails(node('copy', ['a', 'b'], { flags: ['--from'] }), 'DOCKERFILE_BAD_FLAG', /missing a value on flag: --from/);
  fails(node('copy', ['a', 'b'], { flags: ['--link=yes'] }), 'DOCKERFILE_BAD_FLAG', /expecting boolean value for flag --link, not: yes/);
  fails(node('copy', ['a', 'b'], { flags: ['--link='] }), 'DOCKERFILE_BAD_FLAG', /missing a value/);
  fails(node('copy', ['a', 'b'], { flags: ['--from=a', '--from=b'] }), 'DOCKERFILE_BAD_FLAG', /duplicate flag specified: --from/);
  fails(node('run', ['x'], { flags: ['--network=bridge'] }), 'DOCKERFILE_BAD_FLAG', /unsupported network mode "bridge"/);
  fails(node('run', ['x'], { flags: ['--security=privileged'] }), 'DOCKERFILE_BAD_FLAG', /unsupported security mode/);
  // `--mount` is a list: repeating it is fine; `--` ends the flags
  const r = parseInstruction(node('run', ['x'], { flags: ['--mount=type=tmpfs,target=/t', '--mount=type=tmpfs,target=/u', '--', '--bogus'] }), 'D');
  assert.ok(r.kind === 'run' && r.mounts.length === 2);
});

test('HEALTHCHECK durations and retries are validated', () => {
  const hc = (flags: string[]): InstructionNode => node('healthcheck', ['CMD', 'true'], { flags });
  fails(hc(['--interval=10']), 'DOCKERFILE_BAD_FLAG', /invalid duration "10"/);
  fails(hc(['--timeout=1us']), 'DOCKERFILE_BAD_FLAG', /less than 1ms/);
  fails(hc(['--retries=-1']), 'DOCKERFILE_BAD_FLAG', /cannot be negative/);
  fails(hc(['--retries=two']), 'DOCKERFILE_BAD_FLAG', /invalid number/);
  fails(hc(['--start-periodd=1s']), 'DOCKERFILE_BAD_FLAG', /unknown flag: --start-periodd \(did you mean start-period\?\)/);
  fails(node('healthcheck', ['CMD']), 'DOCKERFILE_BAD_ARGUMENT', /Missing command after HEALTHCHECK CMD/);
  fails(node('healthcheck', ['NONE', 'x']), 'DOCKERFILE_BAD_ARGUMENT', /NONE takes no arguments/);
  fails(node('healthcheck', ['RUN', 'x']), 'DOCKERFILE_BAD_ARGUMENT', /Unknown type "RUN" in HEALTHCHECK/);
  fails(node('healthcheck', []), 'DOCKERFILE_BAD_ARGUMENT', /at least one argument/);
});

test('ARG/ENV/LABEL with blank or bad names, and argument counts', () => {
  fails(node('env', ['', 'x', '=']), 'DOCKERFILE_BAD_ARGUMENT', /ENV names can not be blank/);
  fails(node('label', ['', 'x', '=']), 'DOCKERFILE_BAD_ARGUMENT', /LABEL names can not be blank/);
  fails(node('arg', ['=x']), 'DOCKERFILE_BAD_ARGUMENT', /ARG names can not be blank/);
  fails(node('arg', ['"a b"=x']), 'DOCKERFILE_BAD_ARGUMENT', /invalid ARG name/);
  fails(node('arg', []), 'DOCKERFILE_BAD_ARGUMENT', /ARG requires at least one argument/);
  fails(node('env', []), 'DOCKERFILE_BAD_ARGUMENT', /ENV requires at least one argument/);
  fails(node('from', ['a', 'b']), 'DOCKERFILE_BAD_ARGUMENT', /FROM requires either one or three arguments/);
  fails(node('from', ['a', 'AS', '1st']), 'DOCKERFILE_BAD_ARGUMENT', /invalid name for build stage: "1st"/);
  fails(node('copy', ['a']), 'DOCKERFILE_BAD_ARGUMENT', /COPY requires at least two arguments/);
  fails(node('user', ['a', 'b']), 'DOCKERFILE_BAD_ARGUMENT', /USER requires exactly one argument/);
  fails(node('workdir', []), 'DOCKERFILE_BAD_ARGUMENT', /WORKDIR requires exactly one argument/);
  fails(node('volume', [' '], { json: true }), 'DOCKERFILE_BAD_ARGUMENT', /can not be an empty string/);
  fails(node('shell', ['/bin/sh -c']), 'DOCKERFILE_BAD_ARGUMENT', /JSON form/);
  fails(node('shell', [], { json: true }), 'DOCKERFILE_BAD_ARGUMENT', /at least one argument/);
  fails(node('copy', ['<<EOF', '<<EOF'], { heredocs: [{ name: 'EOF', content: 'x\n', expand: true, chomp: false }] }), 'DOCKERFILE_BAD_ARGUMENT', /heredoc as a destination/);
});

test('ONBUILD forbids ONBUILD, FROM and MAINTAINER triggers', () => {
  const wrap = (inner: InstructionNode): InstructionNode => node('onbuild', [], { next: inner });
  fails(wrap(node('onbuild', [], { next: node('run', ['x']) })), 'DOCKERFILE_BAD_ARGUMENT', /Chaining ONBUILD/);
  fails(wrap(node('from', ['alpine'])), 'DOCKERFILE_BAD_ARGUMENT', /FROM isn't allowed as an ONBUILD trigger/);
  fails(wrap(node('maintainer', ['me'])), 'DOCKERFILE_BAD_ARGUMENT', /MAINTAINER isn't allowed/);
  fails(wrap(node('copy', ['a', 'b'], { flags: ['--bad=1'] })), 'DOCKERFILE_BAD_FLAG', /unknown flag: --bad/);
});
