/**
 * The `parser` fuzz target: Dockerfile text → parseDockerfile → toStages (instruction typing) →
 * resolveStageGraph → stageScope (ARG/ENV expansion of every instruction), as a build does before running
 * anything. Inputs are Dockerfile-shaped text (instructions, flags, heredocs, continuations, quotes, JSON
 * arrays, directives), random edits of it, raw bytes, and long repetitions aimed at super-linear scans.
 */
import fc from 'fast-check';
import { parseDockerfile, resolveStageGraph, stageScope, toStages } from '../../../builder/index.js';
import { applyEdits, dfChar, edits, repetitions } from '../arbitraries.js';
import type { ArbValue } from '../harness.js';

const KEYWORDS = [
  'FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'CMD', 'ENTRYPOINT',
  'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER', 'from', 'Run', 'cOpY', 'FORM', 'RUNN', 'ONBUILD RUN',
  'ONBUILD ONBUILD', 'ONBUILD FROM', 'ONBUILD COPY', 'HEALTHCHECK CMD', 'HEALTHCHECK NONE', 'HEALTHCHECK --interval=5s CMD',
];

const WORDS = [
  'alpine', 'scratch', 'busybox:1.36', `a/b:c@sha256:${'a'.repeat(64)}`, 'localhost:5000/x', 'UPPER/case', '$BASE', '${BASE:-alpine}',
  '${X:+y}', '${X-y}', '${X+y}', '${X:?err}', '${X?}', '${X#*/}', '${X##*/}', '${X%.*}', '${X%%.*}', '${X/a/b}', '${X//a/b}', '${',
  '${X', '${:-}', '${X:-${Y:-${Z}}}', '$', '$$', '$1', '\\$X', '"quoted word"', "'single'", '"unterminated', "'unterm", 'a\\ b',
  'AS', 'as', 'stage0', 'stage1', 'b', '0', '1', '-1', '99999999999999999999', '/', '.', '..', '/app', '*.txt', '[a-z]*', '?',
  '["a","b"]', '[', ']', '[]', '["a",1]', '["a" "b"]', '{}', '=', 'A=B', 'A="b c"', 'A=', '=b', 'A=$B', 'A=${B:-c}', 'A',
  '8080/tcp', '80-90/udp', '99999', '1000:1000', 'root', 'root:', ':root', 'SIGKILL', '9', 'SIGRTMIN+3', '30s', '1h2m', '-5s',
  '<<EOF', '<<-EOF', '<<"EOF"', "<<'EOF'", '3<<EOF', '<<EOF2', '<<E"O"F', '<<', '<<-', '&&', '||', ';', '|', '>', '#', '\\', '`',
  'http://example.com/a.tar.gz', 'git@github.com:a/b.git', 'https://github.com/a/b.git#main:dir', '--', '-', 'NONE', 'CMD',
  'https://user:pass@host/x', '\t', ' ', 'ünïcödé', '\u00a0', '\u2028', '\u{1F600}',
];

const FLAGS = [
  '--from=builder', '--from=0', '--from=99', '--from=', '--from=stage1', '--from=alpine', '--from=$X', '--from=NOT_A+REF',
  '--mount=type=cache,target=/root/.cache', '--mount=type=secret,id=x,required', '--mount=type=secret,id=x,env=X',
  '--mount=type=bind,from=builder,source=/a,target=/b,rw', '--mount=type=tmpfs,target=/t,size=10m', '--mount=type=ssh',
  '--mount=', '--mount=type=cache,target=/c,sharing=locked,mode=0777,uid=1,gid=2', '--mount="type=cache,target=/x"',
  '--mount=type=cache,target=/c,id=$X,from=0', '--mount=type=bind,target', '--mount=type=bogus,target=/x',
  '--mount=target=/x,"src=a,b"', '--mount=type=tmpfs,target=/t,size=99999999999999999999g', '--network=none',
  '--network=host', '--network=bogus', '--security=insecure', '--security=sandbox', '--platform=linux/amd64',
  '--platform=$BUILDPLATFORM', '--platform=', '--chown=1000:1000', '--chown=$U:$G', '--chmod=0755', '--chmod=u+x',
  '--chmod=99999999999', '--link', '--link=false', '--link=maybe', '--parents', '--exclude=*.md', '--keep-git-dir=true',
  '--checksum=sha256:abc', '--interval=30s', '--timeout=1x', '--start-period=0s', '--start-interval=5s', '--retries=3',
  '--retries=-1', '--retries=99999999999999999999', '--', '--=', '--unknown-flag', '--from', '-x', '--FROM=a', '--mount',
];

const word = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.string({ unit: dfChar, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
);
const flag = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FLAGS) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom('--from', '--mount', '--chown', '--chmod', '--platform', '--network', '--interval', '--retries', '--x'), word)
      .map(([f, v]) => `${f}=${v}`),
  },
);
const jsonArray = fc.oneof(
  fc.array(fc.oneof(word, fc.string({ maxLength: 8 })), { maxLength: 4 }).map((a) => JSON.stringify(a)),
  fc.constantFrom('[', '["a"', '["a",]', "['a']", '[1,2]', '["a\\u0000"]', '["\\ud800"]', '[ ]', '["a"] x', '[ "sh", "-c", "echo $X" ]'),
);

interface HeredocSpec { name: string; body: string[]; terminated: boolean; tabs: boolean }
const heredocSpec: fc.Arbitrary<HeredocSpec> = fc.record({
  name: fc.constantFrom('EOF', 'END', 'X', 'EOF2', 'eof'),
  body: fc.array(fc.oneof(word, fc.constantFrom('echo $HOME', 'EOF', '\tEOF', 'cat <<INNER', 'INNER', '')), { maxLength: 4 }),
  terminated: fc.boolean(),
  tabs: fc.boolean(),
});

const instruction = fc.record({
  kw: fc.constantFrom(...KEYWORDS),
  flags: fc.array(flag, { maxLength: 3 }),
  form: fc.constantFrom('shell', 'shell', 'json', 'heredoc', 'kv'),
  args: fc.array(word, { maxLength: 6 }),
  json: jsonArray,
  heredocs: fc.array(fc.tuple(fc.constantFrom('<<', '<<-', "<<'", '<<"', '3<<'), heredocSpec), { minLength: 1, maxLength: 2 }),
  seps: fc.array(fc.constantFrom(' ', ' ', ' ', '\t', ' \\\n', ' \\\n  ', ' \\  \n', ' \\\n# comment\n', ' \\\n\n', ' \\\r\n'), { minLength: 8, maxLength: 8 }),
});

function renderInstruction(i: ArbValue<typeof instruction>, esc: string, eol: string): string {
  const sep = (n: number): string => i.seps[n % i.seps.length]!.replace('\\', esc).replace(/\n/g, eol);
  const head = [i.kw, ...i.flags];
  let line = head.join(sep(0));
  const bodies: string[] = [];
  switch (i.form) {
    case 'json':
      line += ` ${i.json}`;
      break;
    case 'kv':
      line += ' ' + i.args.map((a, n) => (n % 2 === 0 ? `${a.replace(/[= ]/g, '')}=${i.args[n + 1] ?? ''}` : '')).filter(Boolean).join(sep(3));
      break;
    case 'heredoc':
      for (const [op, h] of i.heredocs) {
        const quoted = op.endsWith("'") ? `${h.name}'` : op.endsWith('"') ? `${h.name}"` : h.name;
        line += ` ${op}${quoted}`;
        const b = h.body.map((l) => (h.tabs ? `\t${l}` : l));
        if (h.terminated) b.push(h.tabs && op === '<<-' ? `\t${h.name}` : h.name);
        bodies.push(...b);
      }
      if (i.args.length > 0) line += ` ${i.args.join(' ')}`;
      break;
    default:
      if (i.args.length > 0) line += ' ' + i.args.map((a, n) => (n === 0 ? a : sep(n) + a)).join('').replace(/^ /, '');
  }
  return [line, ...bodies].join(eol);
}

const dockerfile = fc.record({
  bom: fc.boolean(),
  directives: fc.array(fc.constantFrom('# syntax=docker/dockerfile:1', '# escape=`', '# escape=\\', '# escape=x', '# check=skip=all',
    '#escape = `', '# syntax = a', '# unknown=1', '# escape=`', '#', '# not a directive'), { maxLength: 3 }),
  first: fc.constantFrom('FROM alpine', 'FROM alpine AS base', 'ARG BASE=alpine', 'FROM ${BASE:-alpine} AS b', 'FROM scratch', '', 'ARG X'),
  body: fc.array(fc.oneof(
    { weight: 8, arbitrary: instruction.map((i) => ({ i })) },
    { weight: 1, arbitrary: fc.constantFrom('', '# comment', '   # indented comment', '\t', 'FROM alpine AS stage1', 'FROM stage1', 'ARG X=1', 'ENV X=2 Y=$X').map((raw) => ({ raw })) },
  ), { maxLength: 10 }),
  eol: fc.constantFrom('\n', '\n', '\r\n', '\r'),
  trailing: fc.constantFrom('', '\n', '\\', '`', '\n\n', ' \\\n'),
});

function renderDockerfile(d: ArbValue<typeof dockerfile>): string {
  const esc = d.directives.some((x) => /escape\s*=\s*`/.test(x)) && !d.directives.some((x) => /escape\s*=\s*\\/.test(x)) ? '`' : '\\';
  const lines: string[] = [...d.directives, d.first];
  for (const b of d.body) lines.push('raw' in b ? b.raw : renderInstruction(b.i, esc, d.eol));
  return (d.bom ? '\ufeff' : '') + lines.join(d.eol) + d.trailing;
}

/** Dockerfile-shaped text, edited text, raw bytes, and repetitions (weights favour the well-formed). */
export const parserInput: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 12, arbitrary: dockerfile.map(renderDockerfile) },
  { weight: 4, arbitrary: fc.tuple(dockerfile.map(renderDockerfile), edits).map(([s, e]) => applyEdits(s, e)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.tuple(dockerfile.map(renderDockerfile), fc.uint8Array({ maxLength: 8 }), fc.nat()).map(([s, junk, at]) => {
    const b = Buffer.from(s, 'utf8');
    const p = b.length === 0 ? 0 : at % b.length;
    return Buffer.concat([b.subarray(0, p), Buffer.from(junk), b.subarray(p)]);
  }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('#', '##', '%', '%%', '/', '//'), fc.integer({ min: 1, max: 40 }), fc.constantFrom('a', 'b', '?a', 'a?'))
    .map(([n, op, k, piece]) => `FROM a\nENV X=${'a'.repeat(n)}\nRUN echo \${X${op}${`*${piece}`.repeat(k)}*c${op.startsWith('/') ? '/r' : ''}}\n`) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 64 }), fc.constantFrom('ENV', 'ARG'))
    .map(([lines, refs, kw]) => `FROM a\n${kw} A=abcdefgh\n${`${kw} A=${'$A'.repeat(refs)}\n`.repeat(lines)}RUN echo $A\n`) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 60000 }).map((n) => `FROM a\nENV X=${'x'.repeat(n)}\nRUN echo \${X//?/$X}\n`) },
  { weight: 1, arbitrary: repetitions(['${', '${X:-', '\\\n', '`\n', '"', "'", '[', '["a",', '<<EOF ', '--a=b ', 'a=b ', '$X', '\\', ' ', '#\n', 'RUN a\n', 'FROM a AS b\n', '${X/', '\\$'], ['', '}', '\n', '"', 'x\n'], 20000) },
);

const PARSE_BUILD_ARGS = { A: '1', BASE: 'alpine', X: 'x/y.z' } as const;

/** Runs one Dockerfile through the pure front end; returns normally or throws what the front end threw. */
export function runParser(input: string | Uint8Array): void {
  const ast = parseDockerfile(input, { file: 'Dockerfile' });
  JSON.stringify(ast);
  const { stages, metaArgs } = toStages(ast);
  const o = { buildArgs: PARSE_BUILD_ARGS, escapeToken: ast.directives.escape, platform: { build: { os: 'linux', architecture: 'amd64' } } };
  const graph = resolveStageGraph(stages, metaArgs, o);
  for (const rs of graph.order) {
    stageScope(rs.stage, { metaScope: graph.metaScope, buildArgs: PARSE_BUILD_ARGS, escapeToken: ast.directives.escape, baseEnv: ['PATH=/usr/bin', 'X=1'] });
  }
}
