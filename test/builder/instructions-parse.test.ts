// parseInstruction turns parse-tree nodes into typed instructions with BuildKit's per-instruction rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstructionNode } from '../../builder/frontend/parser/ast.js';
import { parseInstruction } from '../../builder/frontend/instructions/index.js';

function node(cmd: string, args: string[], o: Partial<InstructionNode> = {}): InstructionNode {
  return { cmd, original: `${cmd.toUpperCase()} ${[...(o.flags ?? []), ...args].join(' ')}`, flags: [], args, json: false, heredocs: [], line: 3, endLine: 4, ...o };
}

test('FROM: image, lower-cased stage name, platform and location', () => {
  const f = parseInstruction(node('from', ['alpine:3.20', 'AS', 'Build'], { flags: ['--platform=$BUILDPLATFORM'] }), 'Dockerfile');
  assert.equal(f.kind, 'from');
  if (f.kind !== 'from') return;
  assert.equal(f.image, 'alpine:3.20');
  assert.equal(f.stageName, 'build');
  assert.equal(f.platform, '$BUILDPLATFORM');
  assert.deepEqual(f.location, { file: 'Dockerfile', line: 3, endLine: 4 });
  const plain = parseInstruction(node('from', ['scratch']), 'D');
  assert.ok(plain.kind === 'from' && plain.stageName === undefined && plain.platform === undefined);
});

test('RUN shell form is one string to prepend the shell to; exec form keeps argv; flags are parsed', () => {
  const sh = parseInstruction(node('run', ['echo hi && ls'], { flags: ['--network=none', '--security=insecure', '--mount=type=cache,target=/root/.cache'] }), 'D');
  assert.ok(sh.kind === 'run');
  if (sh.kind !== 'run') return;
  assert.deepEqual(sh.cmdLine, ['echo hi && ls']);
  assert.equal(sh.prependShell, true);
  assert.equal(sh.network, 'none');
  assert.equal(sh.security, 'insecure');
  assert.equal(sh.mounts.length, 1);
  assert.equal(sh.mounts[0]!.type, 'cache');
  assert.equal(sh.mounts[0]!.readOnly, false);
  assert.deepEqual([...sh.flagsUsed].sort(), ['mount', 'network', 'security']);
  const ex = parseInstruction(node('run', ['echo', 'a b'], { json: true }), 'D');
  assert.ok(ex.kind === 'run' && ex.prependShell === false);
  assert.deepEqual(ex.kind === 'run' && ex.cmdLine, ['echo', 'a b']);
});

test('COPY/ADD: sources, dest, flags, heredoc sources with chomp', () => {
  const c = parseInstruction(node('copy', ['a', 'b', '/dst/'], { flags: ['--from=builder', '--chown=1:1', '--chmod=755', '--link', '--parents=true', '--exclude=*.md', '--exclude=x'] }), 'D');
  assert.ok(c.kind === 'copy');
  if (c.kind !== 'copy') return;
  assert.deepEqual(c.sources, ['a', 'b']);
  assert.equal(c.dest, '/dst/');
  assert.equal(c.from, 'builder');
  assert.equal(c.chown, '1:1');
  assert.equal(c.chmod, '755');
  assert.equal(c.link, true);
  assert.equal(c.parents, true);
  assert.deepEqual(c.exclude, ['*.md', 'x']);

  const h = parseInstruction(node('copy', ['<<-EOF', "<<'RAW'", 'src', '/dst'], {
    heredocs: [{ name: 'EOF', content: '\t\thello\n\tworld\n', expand: true, chomp: true }, { name: 'RAW', content: '$x\n', expand: false, chomp: false }],
  }), 'D');
  assert.ok(h.kind === 'copy');
  if (h.kind !== 'copy') return;
  assert.deepEqual(h.sources, ['src']);
  assert.deepEqual(h.sourceContents, [{ path: 'EOF', data: 'hello\nworld\n', expand: true }, { path: 'RAW', data: '$x\n', expand: false }]);

  const a = parseInstruction(node('add', ['https://x/y.tgz', '/y'], { flags: ['--checksum=sha256:abc', '--keep-git-dir', '--unpack=false', '--link=false'] }), 'D');
  assert.ok(a.kind === 'add');
  if (a.kind !== 'add') return;
  assert.equal(a.checksum, 'sha256:abc');
  assert.equal(a.keepGitDir, true);
  assert.equal(a.unpack, false);
  assert.equal(a.link, false);
  const a2 = parseInstruction(node('add', ['x', '/y']), 'D');
  assert.ok(a2.kind === 'add' && a2.unpack === undefined && a2.keepGitDir === false);
});

test('ENV/LABEL triplets, ARG declarations, EXPOSE sorted, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER', () => {
  const e = parseInstruction(node('env', ['A', '1', '=', 'B', 'two words', '']), 'D');
  assert.deepEqual(e.kind === 'env' && e.pairs, [{ key: 'A', value: '1', noDelim: false }, { key: 'B', value: 'two words', noDelim: true }]);
  const l = parseInstruction(node('label', ['org.x', '"y z"', '=']), 'D');
  assert.deepEqual(l.kind === 'label' && l.pairs, [{ key: 'org.x', value: '"y z"', noDelim: false }]);
  const a = parseInstruction(node('arg', ['A', 'B=2', 'C=']), 'D');
  assert.deepEqual(a.kind === 'arg' && a.args, [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }]);
  const x = parseInstruction(node('expose', ['8080/tcp', '443', '80']), 'D');
  assert.deepEqual(x.kind === 'expose' && x.ports, ['443', '80', '8080/tcp']);
  const v = parseInstruction(node('volume', ['/a', ' /b '], { json: true }), 'D');
  assert.deepEqual(v.kind === 'volume' && v.volumes, ['/a', '/b']);
  assert.deepEqual(parseInstruction(node('user', ['app:app']), 'D'), { kind: 'user', location: { file: 'D', line: 3, endLine: 4 }, original: 'USER app:app', user: 'app:app' });
  const w = parseInstruction(node('workdir', ['/src']), 'D');
  assert.ok(w.kind === 'workdir' && w.path === '/src');
  const s = parseInstruction(node('stopsignal', ['SIGTERM']), 'D');
  assert.ok(s.kind === 'stopsignal' && s.signal === 'SIGTERM');
  const m = parseInstruction(node('maintainer', ['Jane <j@x>']), 'D');
  assert.ok(m.kind === 'maintainer' && m.maintainer === 'Jane <j@x>');
});

test('CMD/ENTRYPOINT/SHELL forms', () => {
  const c = parseInstruction(node('cmd', ['a', 'b'], { json: true }), 'D');
  assert.deepEqual(c.kind === 'cmd' && [c.cmdLine, c.prependShell], [['a', 'b'], false]);
  const e = parseInstruction(node('entrypoint', [], { json: true }), 'D');
  assert.deepEqual(e.kind === 'entrypoint' && e.cmdLine, []);
  const s = parseInstruction(node('shell', ['/bin/bash', '-c'], { json: true }), 'D');
  assert.deepEqual(s.kind === 'shell' && s.shell, ['/bin/bash', '-c']);
});

test('HEALTHCHECK: CMD-SHELL vs CMD, durations in nanoseconds, NONE', () => {
  const h = parseInstruction(node('healthcheck', ['CMD', 'curl -f http://localhost/'], {
    flags: ['--interval=1m30s', '--timeout=500ms', '--start-period=2s', '--start-interval=1.5s', '--retries=3'] }), 'D');
  assert.ok(h.kind === 'healthcheck');
  if (h.kind !== 'healthcheck') return;
  assert.deepEqual(h.health, { test: ['CMD-SHELL', 'curl -f http://localhost/'], interval: 90e9, timeout: 500e6, startPeriod: 2e9, startInterval: 1.5e9, retries: 3 });
  const j = parseInstruction(node('healthcheck', ['cmd', 'curl', '-f'], { json: true }), 'D');
  assert.deepEqual(j.kind === 'healthcheck' && j.health.test, ['CMD', 'curl', '-f']);
  const n = parseInstruction(node('healthcheck', ['NONE']), 'D');
  assert.deepEqual(n.kind === 'healthcheck' && n.health.test, ['NONE']);
});

test('ONBUILD wraps a parsed trigger and keeps its text', () => {
  const inner = node('run', ['echo hi'], { original: 'RUN echo hi' });
  const o = parseInstruction(node('onbuild', [], { original: 'ONBUILD RUN echo hi', next: inner }), 'D');
  assert.ok(o.kind === 'onbuild');
  if (o.kind !== 'onbuild') return;
  assert.equal(o.expression, 'RUN echo hi');
  assert.equal(o.trigger.kind, 'run');
});
