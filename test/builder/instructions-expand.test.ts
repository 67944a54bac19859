// expandInstruction expands exactly the fields BuildKit expands, and leaves shell-form commands alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstructionNode } from '../../builder/frontend/parser/ast.js';
import { expandInstruction, parseInstruction, supportsExpansion, type Expander } from '../../builder/frontend/instructions/index.js';
import { processWord, processWords } from '../../builder/frontend/shell/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';
import { expandRunMounts } from '../../builder/plan/index.js';

function node(cmd: string, args: string[], o: Partial<InstructionNode> = {}): InstructionNode {
  return { cmd, original: `${cmd.toUpperCase()} ${args.join(' ')}`, flags: [], args, json: false, heredocs: [], line: 9, endLine: 9, ...o };
}
const env = new Map([['V', '1.2'], ['DIR', '/app'], ['U', 'app'], ['PORTS', '80 443/udp'], ['STAGE', 'build']]);
const ex: Expander = { word: (w) => processWord(w, env), words: (w) => processWords(w, env) };
const p = (n: InstructionNode) => expandInstruction(parseInstruction(n, 'D'), ex);

test('ENV/LABEL/ARG keys and values, WORKDIR, USER, VOLUME, STOPSIGNAL, EXPOSE', () => {
  const e = p(node('env', ['K_$U', '"v $V"', '=']));
  assert.deepEqual(e.kind === 'env' && e.pairs, [{ key: 'K_app', value: 'v 1.2', noDelim: false }]);
  const l = p(node('label', ['version', '${V}-x', '=']));
  assert.deepEqual(l.kind === 'label' && l.pairs[0]!.value, '1.2-x');
  const a = p(node('arg', ['A=${DIR}/bin', 'B']));
  assert.deepEqual(a.kind === 'arg' && a.args, [{ key: 'A', value: '/app/bin' }, { key: 'B' }]);
  assert.equal((p(node('workdir', ['$DIR/src'])) as { path: string }).path, '/app/src');
  assert.equal((p(node('user', ['${U}:${U}'])) as { user: string }).user, 'app:app');
  assert.deepEqual((p(node('volume', ['$DIR/data'])) as { volumes: readonly string[] }).volumes, ['/app/data']);
  assert.equal((p(node('stopsignal', ['${SIG:-SIGTERM}'])) as { signal: string }).signal, 'SIGTERM');
  assert.deepEqual((p(node('expose', ['$PORTS', '8080'])) as { ports: readonly string[] }).ports, ['80', '443/udp', '8080']);
});

test('COPY/ADD sources, dest, --from, --chown and expandable heredocs; quoted heredocs stay literal', () => {
  const c = p(node('copy', ['<<A', '<<B', '$DIR/x', '$DIR/'], {
    flags: ['--from=$STAGE', '--chown=$U'],
    heredocs: [{ name: 'A', content: 'v=$V\n', expand: true, chomp: false }, { name: 'B', content: 'v=$V\n', expand: false, chomp: false }],
  }));
  assert.ok(c.kind === 'copy');
  if (c.kind !== 'copy') return;
  assert.deepEqual(c.sources, ['/app/x']);
  assert.equal(c.dest, '/app/');
  assert.equal(c.from, 'build');
  assert.equal(c.chown, 'app');
  assert.deepEqual(c.sourceContents.map((s) => s.data), ['v=1.2\n', 'v=$V\n']);
});

test('RUN/CMD/ENTRYPOINT shell form is not expanded; RUN --mount values are', () => {
  const r = p(node('run', ['echo $V'], { flags: ['--mount=type=cache,id=c-$V,target=$DIR/.cache'] }));
  assert.ok(r.kind === 'run');
  if (r.kind !== 'run') return;
  assert.deepEqual(r.cmdLine, ['echo $V']);
  // Parsed once (values with $ deferred); expanded once, by the plan layer.
  assert.equal(r.mounts[0]!.deferred, true);
  assert.equal(r.mounts[0]!.id, undefined);
  const [m] = expandRunMounts(r, ex.word);
  assert.equal(m!.id, 'c-1.2');
  assert.equal(m!.target, '/app/.cache');
  assert.deepEqual((p(node('cmd', ['echo $V'])) as { cmdLine: readonly string[] }).cmdLine, ['echo $V']);
  assert.equal(supportsExpansion('cmd'), false);
  assert.equal(supportsExpansion('entrypoint'), false);
  assert.equal(supportsExpansion('env'), true);
  assert.equal(supportsExpansion('from'), false);
});

test('an expansion error gets the instruction location', () => {
  assert.throws(() => p(node('workdir', ['${MISSING:?set MISSING}'])), (e: unknown) =>
    TsbuildError.is(e) && e.code === 'EXPANSION' && /MISSING: set MISSING/.test(e.message) && (e.location as { line: number }).line === 9);
});
