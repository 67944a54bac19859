/**
 * Property-based fuzzing (fast-check) of the three parsers that read untrusted bytes:
 *
 * - `parser`: Dockerfile text → parseDockerfile → toStages (instruction typing) → resolveStageGraph →
 *   stageScope (ARG/ENV expansion of every instruction), as a build does before running anything.
 * - `reference`: parseReference, plus the round trip parse(format(r)) = r for every accepted reference.
 * - `tar`: applyLayer (the pull path: gzip/zstd/plain autodetected, TarReader, hostile-name policy) into a
 *   sandbox, with structured hostile archives and raw byte mutations of valid ones.
 *
 * Properties checked for every input: it finishes within `--max-input-ms` (default 1000 ms; an input over
 * it is run again and is a finding only if slow twice, since a loaded machine makes single timings noisy; a
 * watchdog kills the worker after `--hang-ms` without progress and reports the input), it either succeeds
 * or throws a TsbuildError (any other exception is a finding), memory stays bounded (the worker has a
 * 2 GiB heap cap; peak RSS and heap are reported), and for tar nothing outside the target directory changes
 * (the sandbox around the target, file mtimes/sizes/inodes/link counts and directory mtimes, is compared
 * after every input; xattrs outside are checked with getfattr; absolute hostile paths point into a canary dir).
 *
 *   npm run fuzz                                  # 100,000 inputs per target, random seed
 *   node dist/bench/fuzz.js --runs 5000 --target tar --seed 42 [--jobs 2]
 *
 * Failing inputs are shrunk by fast-check; re-run one with the printed seed (and the same --runs/--jobs).
 *
 * Writes a summary to bench/results/fuzz.md (and prints it); failing inputs go to bench/results/fuzz-findings/.
 * Exit code 1 when there is a finding.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm, mkdir } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseDockerfile, resolveStageGraph, stageScope, toStages } from '../builder/index.js';
import { TsbuildError, applyLayer, encodeHeader, encodeName, fsPath, padding, readdirNamesSync, type TarHeader } from '../layer-store/index.js';
import { namesInput, namesSandbox, NamesPropertyFailure, runNames } from './fuzz-names.js';
import { formatReference, parseReference } from '../registry-client/index.js';

export type FuzzTarget = 'parser' | 'reference' | 'tar' | 'names';
export const TARGETS: readonly FuzzTarget[] = ['parser', 'reference', 'tar', 'names'];

export interface FuzzOptions {
  /** Inputs to generate (default 100,000). */
  readonly runs?: number;
  /** fast-check seed (default: random, reported). */
  readonly seed?: number;
  /** Per-input time bound in ms; a slower input is a finding (default 1000). */
  readonly maxInputMs?: number;
  /** Watchdog: no finished input for this long kills the worker and reports a hang (default 15,000). */
  readonly hangMs?: number;
  /** Run in a worker thread with a watchdog and a heap cap (default true). */
  readonly isolate?: boolean;
  /** Print the input count to stderr every 30 s (the CLI sets it). */
  readonly progress?: boolean;
  /** Worker threads to split the runs over (worker i uses seed + i; default 1). */
  readonly jobs?: number;
  /** Where failing inputs are written (default bench/results/fuzz-findings next to this script's repo). */
  readonly findingsDir?: string;
}

export interface Finding {
  readonly kind: 'crash' | 'slow' | 'hang' | 'escape' | 'roundtrip' | 'memory';
  readonly message: string;
  /** Short printable form of the input (JSON string, or base64 for bytes). */
  readonly input: string;
  /** File holding the complete input, when written. */
  readonly file?: string;
}

export interface TargetReport {
  readonly target: FuzzTarget;
  readonly seed: number;
  /** Workers the runs were split over (seeds seed … seed + jobs - 1). */
  readonly jobs?: number;
  /** Inputs executed (including fast-check's shrinking attempts after a failure). */
  readonly inputs: number;
  readonly wallMs: number;
  readonly maxInputMs: number;
  readonly slowestInput: string;
  /** Peak RSS of the whole process (MiB) and peak V8 heap used by the fuzzing thread (MiB). */
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  /** Inputs over the time bound on first run that were re-run (and were under it the second time, else a finding). */
  readonly retimed?: number;
  /** Outcome counts: `ok` or the TsbuildError code. */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly findings: readonly Finding[];
}

const MB = 1024 * 1024;
type ArbValue<A> = A extends fc.Arbitrary<infer T> ? T : never;
const HEARTBEAT_BYTES = 4 * MB;

// ------------------------------------------------------------------------------------------ shared helpers

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
  return d;
}

function show(input: unknown, max = 400): string {
  if (typeof input === 'object' && input !== null && !ArrayBuffer.isView(input) && 'bytes' in input) return show((input as { bytes: unknown }).bytes, max);
  if (ArrayBuffer.isView(input)) {
    const b = toBytes(input);
    return `base64:${b.subarray(0, max).toString('base64')}${b.length > max ? `… (${b.length} bytes)` : ''}`;
  }
  const s = JSON.stringify(input) ?? String(input);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

/** The bytes of an input: a string (UTF-8), bytes, or a TarInput's archive. */
function toBytes(input: unknown): Buffer {
  if (ArrayBuffer.isView(input)) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (typeof input === 'object' && input !== null && 'bytes' in input) return toBytes((input as { bytes: unknown }).bytes);
  return Buffer.from(JSON.stringify(input) ?? String(input), 'utf8');
}

/** A failed property with its kind (the message reaches fast-check's report; the kind ours). */
class PropertyFailure extends Error {
  constructor(readonly kind: Finding['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PropertyFailure';
  }
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 7).join('\n')}`;
  return String(e);
}

// ------------------------------------------------------------------------------------- parser generators

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

const alnum = 'aZ09_-./:@$={}[]"\'\\`#<>*?!%&|;+, \t';
const dfChar = fc.constantFrom(...alnum.split(''));
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

/** Random edits of a text: insert, delete or replace characters at random places. */
const edits = fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), del: fc.nat(4), ins: fc.string({ unit: fc.oneof(dfChar, fc.constantFrom('\n', '\r', '\\', '`', '<<', '"', '\0')), maxLength: 4 }) }), { maxLength: 4 });

function applyEdits(s: string, es: readonly { at: number; del: number; ins: string }[]): string {
  let out = s;
  for (const e of es) {
    const p = Math.floor(e.at * out.length);
    out = out.slice(0, p) + e.ins + out.slice(p + e.del);
  }
  return out;
}

/** Long repetitions of a small piece with a bad ending: catches quadratic scans and regex backtracking. */
function repetitions(pieces: readonly string[], suffixes: readonly string[], maxN: number): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...pieces), fc.integer({ min: 100, max: maxN }), fc.constantFrom(...suffixes), fc.constantFrom('', 'FROM alpine\nRUN ', 'FROM a\nENV X='))
    .map(([p, n, s, pre]) => pre + p.repeat(n) + s);
}

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

// ---------------------------------------------------------------------------------- reference generators

const HEX = '0123456789abcdef';
const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...HEX.split('')), minLength: n, maxLength: n });
const refHost = fc.oneof(
  fc.constantFrom('localhost:5000', 'ghcr.io', 'registry.example.com:443', '127.0.0.1:5000', '[::1]:5000', 'docker.io'),
  fc.constantFrom('localhost', 'localhost:5000', 'docker.io', 'index.docker.io', 'registry-1.docker.io', 'ghcr.io', 'a.b.c:1',
    '[::1]:5000', '[::1]', '[fe80::1%eth0]:5000', 'Foo', 'FOO.io', '127.0.0.1:5000', '-bad.io', 'a..b', 'a.b-.c', 'xn--bcher-kva.ch',
    ':5000', 'a:b:c', 'a:', '[', '[]', 'host:99999999999999999999', 'ex ample.com', 'ex_ample.com'),
  fc.string({ unit: fc.constantFrom(...'ab1.-:[]'.split('')), minLength: 1, maxLength: 12 }),
);
const refComponent = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('library', 'alpine', 'a', 'a-b', 'a__b', 'a_b', 'a.b', 'a--b', 'x1', '0', 'my-app.v2') },
  { weight: 2, arbitrary: fc.constantFrom('a___b', '_a', 'a_', '-a', 'A', '...', '', 'a..b') },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'ab1._-'.split('')), minLength: 1, maxLength: 10 }) },
);
const refTail = fc.oneof(
  fc.constant(''),
  fc.constant(''),
  fc.constantFrom(':latest', ':latest', ':1.0', ':v1.2.3', ':-x', `:${'a'.repeat(128)}`, `:${'a'.repeat(129)}`, ':.x', ':_x', ':', ':a/b', ':ä'),
  hex(64).map((h) => `@sha256:${h}`),
  fc.tuple(fc.constantFrom(':v1', ''), fc.constantFrom('@sha256:', '@sha512:', '@', '@sha256:X', '@SHA256:'), fc.oneof(hex(64), hex(63), hex(128), hex(0)))
    .map(([t, a, h]) => `${t}${a}${h}`),
);
export const referenceInput: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(fc.option(refHost, { nil: undefined }), fc.array(refComponent, { minLength: 1, maxLength: 4 }), refTail)
    .map(([h, cs, t]) => `${h !== undefined ? `${h}/` : ''}${cs.join('/')}${t}`) },
  { weight: 3, arbitrary: fc.tuple(fc.string({ unit: fc.constantFrom(...'aA0.:/@_-[] '.split('')), maxLength: 40 }), refTail).map(([s, t]) => s + t) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.tuple(referenceInputSeed(), edits).map(([s, e]) => applyEdits(s, e)) },
  { weight: 1, arbitrary: repetitions(['a', 'a.', 'a-', 'a_', 'a__', 'a/', 'A', '0', '[', ':', '@', '-', '.', 'a.b/', 'a-b.'],
    ['', '!', '-', '.', '/', ':', '@', 'A', '_', '/-', '.-/x', ':-', '@sha256:'], 50000) },
);
function referenceInputSeed(): fc.Arbitrary<string> {
  return fc.constantFrom('docker.io/library/alpine:3.19', 'localhost:5000/a/b@sha256:' + 'b'.repeat(64), 'ghcr.io/o/r:tag', 'alpine');
}

/** Parses a reference; accepted references must survive parse(format(r)) unchanged. */
export function runReference(input: string): void {
  const r = parseReference(input);
  const s = formatReference(r);
  let r2;
  try {
    r2 = parseReference(s);
  } catch (e) {
    throw new PropertyFailure('roundtrip', `formatReference output ${JSON.stringify(s)} does not parse again: ${describeError(e)}`);
  }
  const a = JSON.stringify([r.registry, r.repository, r.tag, r.digest]);
  const b = JSON.stringify([r2.registry, r2.repository, r2.tag, r2.digest]);
  if (a !== b) throw new PropertyFailure('roundtrip', `parse(format(r)) differs: ${a} vs ${b}`);
}

// ---------------------------------------------------------------------------------------- tar generators

/** The sandbox a tar is applied in: `<root>/a/b/c/target`, files around it, and an absolute-path canary. */
interface Sandbox { root: string; target: string; canary: string; sinceXattrCheck: number }

function makeSandbox(): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'tsbuild-fuzz-'));
  const target = join(root, 'a', 'b', 'c', 'target');
  mkdirSync(join(root, 'a', 'b', 'c'), { recursive: true });
  const canary = join(root, 'canary');
  mkdirSync(canary);
  writeFileSync(join(root, 'a', 'sentinel'), 'sentinel');
  writeFileSync(join(root, 'a', 'b', 'c', 'sibling'), 'sibling');
  writeFileSync(join(root, 'sentinel'), 'root sentinel');
  return { root, target, canary, sinceXattrCheck: 0 };
}

/** Returns the xattrs found under the sandbox (the target is absent between inputs): empty unless something escaped. */
function outsideXattrs(sb: Sandbox): string {
  try {
    return execFileSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '--absolute-names', '--', sb.root], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return `getfattr failed: ${(e as Error).message}`;
  }
}

/** Everything under the sandbox root except the target (directory mtimes excluded: creating the target changes them). */
function snapshotOutside(sb: Sandbox): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirNamesSync(d).sort()) { // names as bytes: an escaped non-UTF-8 name must show up too
      const p = join(d, n);
      if (p === sb.target) continue;
      const st = lstatSync(fsPath(p));
      if (st.isDirectory()) {
        // the target's parent changes mtime when the target is created and removed; every other mtime must not
        out.push(`${p} dir ${st.mode} ${st.uid}:${st.gid}${p === dirname(sb.target) ? '' : ` ${st.mtimeMs}`}`);
        walk(p);
      } else {
        out.push(`${p} ${st.mode} ${st.size} ${st.nlink} ${st.ino} ${st.mtimeMs} ${st.uid}:${st.gid}`);
      }
    }
  };
  walk(sb.root);
  return out.join('\n');
}

/** A tar header with every field controllable, for headers our encoder would never write. */
interface RawHeader {
  name: string; mode: string; uid: string; gid: string; size: string | Uint8Array; mtime: string; typeflag: number;
  linkname: string; magic: string; prefix: string; devmajor: string; devminor: string; checksum: 'good' | 'bad' | 'signed';
}

function rawHeaderBlock(h: RawHeader): Buffer {
  const b = Buffer.alloc(512);
  encodeName(h.name).copy(b, 0, 0, 100);
  b.write(h.mode, 100, 8, 'latin1');
  b.write(h.uid, 108, 8, 'latin1');
  b.write(h.gid, 116, 8, 'latin1');
  if (typeof h.size === 'string') b.write(h.size, 124, 12, 'latin1');
  else Buffer.from(h.size).copy(b, 124, 0, 12);
  b.write(h.mtime, 136, 12, 'latin1');
  b.fill(0x20, 148, 156);
  b[156] = h.typeflag;
  encodeName(h.linkname).copy(b, 157, 0, 100);
  b.write(h.magic, 257, 8, 'latin1');
  b.write(h.devmajor, 329, 8, 'latin1');
  b.write(h.devminor, 337, 8, 'latin1');
  encodeName(h.prefix).copy(b, 345, 0, 155);
  let u = 0;
  let s = 0;
  for (let i = 0; i < 512; i++) { u += b[i]!; s += b[i]! > 127 ? b[i]! - 256 : b[i]!; }
  const sum = h.checksum === 'good' ? u : h.checksum === 'signed' ? s : u + 1;
  b.write(`${(sum < 0 ? 0 : sum).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

function paxBody(records: readonly (readonly [string, Buffer, number])[]): Buffer {
  return Buffer.concat(records.map(([k, v, lie]) => {
    const body = Buffer.byteLength(k) + v.length + 3;
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    return Buffer.concat([Buffer.from(`${len + lie} ${k}=`, 'utf8'), v, Buffer.from('\n')]);
  }));
}

function tarNames(canary: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom('a', 'a/b', 'a/b/c', 'd/', 'd/e', 'd/e/', 'l', 'l/', 'l/x', 'l/y/z', 'm/x', './a', 'a/./b', 'a//b', 'f', 'f/x', 'h') },
    // names that exist outside (…/a/sentinel, …/a/b, …/canary): reached if a parent becomes a symlink later
    { weight: 3, arbitrary: fc.constantFrom('l/b/', 'l/sentinel', 'l/sentinel/', 'l/canary/', 'l/a/', 'd/b/', 'd/sentinel') },
    { weight: 4, arbitrary: fc.constantFrom('../x', '../../x', '../../../sentinel', 'a/../../x', 'l/../x', '..', '/abs', `${canary}/x`, `/${canary}/y/z`, '/', '.', './', '', '//', `..${'/..'.repeat(5)}/tmp/x`) },
    { weight: 3, arbitrary: fc.constantFrom('.wh.a', 'd/.wh..wh..opq', '.wh..wh..opq', '.wh..', '.wh.', '.wh.l', '.wh..wh.plnk', 'l/.wh.x', '.wh...', 'd/.wh.e') },
    { weight: 2, arbitrary: fc.constantFrom('x'.repeat(100), 'x'.repeat(101), `${'p/'.repeat(60)}q`, 'z'.repeat(256), `d/${'y'.repeat(255)}`, `d/${'y'.repeat(300)}`, 'ünï/cödé', 'a\\b', 'nul\0x', 'a\nb', 'sp ace') },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', 'l', '/', '.', 'd', '\0', 'é'), maxLength: 12 }) },
    // names that are not UTF-8, as tsbuild carries them (each stray byte as U+DC80-DCFF; layer-store core/file-names.ts)
    { weight: 2, arbitrary: fc.constantFrom('caf\uDCE9.txt', 'd\uDCFF\uDCFE/n\uDC80.bin', 'd\uDCFF\uDCFE/', '\uDCC3', 'a\uDCC0\uDCAF', '\uDCED\uDCA0\uDC80',
      '.wh.caf\uDCE9', 'l/\uDCE9', `${'\uDCE9'.repeat(101)}`, `d/${'\uDCFF'.repeat(255)}`, `d/${'\uDCFF'.repeat(256)}`, '\uFFFD\uDCE9') },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', '/', '\uDCE9', '\uDC80', '\uDCFF', 'é', '\0'), maxLength: 12 }) },
  );
}

function linkTargets(canary: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('a', 'a/b', 'd', 'd/e', 'f', 'l', 'l/x', 'm', '.', '', 'missing', 'h'),
    fc.constantFrom('/', '..', '../..', '../../..', '../../../..', '/etc', '/tmp', canary, `${canary}/x`, `${canary}/../sentinel`, '../sentinel', '../../../sentinel', 'a/b/../../..', 'l/..', '/../../..'),
    fc.constantFrom(dirname(canary), join(dirname(canary), 'a'), join(dirname(canary), 'a', 'b', 'c')),
    fc.constantFrom('x'.repeat(5000), 'nul\0x', `${'../'.repeat(40)}etc`, 'l/l/l/l'),
    fc.constantFrom('caf\uDCE9.txt', 'd\uDCFF\uDCFE', '../\uDCE9', '/\uDC80', `${'\uDCE9'.repeat(120)}`),
  );
}

const NUMS = ['0', '1', '-1', '1e400', 'NaN', '0x10', '1.5', '4294967295', '4294967296', '99999999999999999999', '', ' 5', '1e3', '9007199254740993', '2147483648', '00', '17777777777'];
const numStr = fc.oneof(fc.constantFrom(...NUMS), fc.nat().map(String), fc.string({ unit: fc.constantFrom(...'0123456789.-e '.split('')), maxLength: 6 }));
const OCTAL_FIELDS = ['0000644\0', '0000755 ', '7777777\0', '', '\0\0\0', '   12  ', '0000008\0', '-000001\0', 'zzzzzzz\0', '77777777', '1 2', '0'];

function tarEntry(canary: string) {
  const paxKey = fc.oneof(
    fc.constantFrom('path', 'linkpath', 'size', 'uid', 'gid', 'mtime', 'atime', 'uname', 'comment', 'GNU.sparse.size',
      'SCHILY.xattr.user.x', 'SCHILY.xattr.security.capability', 'SCHILY.xattr.trusted.overlay.opaque', 'SCHILY.xattr.',
      'SCHILY.xattr.user.', `SCHILY.xattr.user.${'k'.repeat(300)}`, 'SCHILY.xattr.bogus', 'SCHILY.xattr.user.a=b', 'SCHILY.xattr.user.\u00e9'),
    fc.string({ unit: fc.constantFrom('a', '.', '=', ' ', '\n', '\0'), maxLength: 6 }),
  );
  const paxValue = fc.oneof(
    tarNames(canary).map((s) => encodeName(s)),
    numStr.map((s) => Buffer.from(s, 'latin1')),
    fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
    fc.constant(Buffer.alloc(70_000, 0x61)),
  );
  return fc.record({
    name: tarNames(canary),
    type: fc.constantFrom<TarHeader['type']>('file', 'file', 'file', 'dir', 'dir', 'symlink', 'symlink', 'link', 'link', 'char', 'block', 'fifo'),
    rawType: fc.option(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0x00, 0x37, 0x4c, 0x4b, 0x53, 0x56, 0x4d, 0x44, 0x67, 0x78, 0x41) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }), { freq: 10, nil: undefined }),
    mode: fc.oneof(fc.constantFrom(0o644, 0o755, 0o4755, 0o1777, 0, 0o7777, 0o200, 0o000), fc.nat(0o7777)),
    uid: fc.oneof(fc.constantFrom(0, 1000, 65534), fc.nat()),
    gid: fc.oneof(fc.constantFrom(0, 1000, 65534), fc.nat()),
    mtime: fc.oneof(fc.constantFrom(0, 1700000000, 0o77777777777), fc.nat()),
    body: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2048 }), fc.constantFrom(511, 512, 513, 1024)),
    sizeLie: fc.option(fc.oneof(fc.integer({ min: -600, max: 600 }), fc.constantFrom(0o77777777777, 2 ** 40)), { freq: 6, nil: undefined }),
    linkname: linkTargets(canary),
    devmajor: fc.constantFrom(0, 1, 7, 259, 2097151),
    devminor: fc.constantFrom(0, 3, 5, 2097151),
    xattrs: fc.option(fc.array(fc.tuple(fc.constantFrom('user.a', 'user.b', 'security.capability', 'trusted.overlay.opaque', 'user.' + 'k'.repeat(250), 'user.é'), fc.uint8Array({ maxLength: 20 })), { maxLength: 2 }), { freq: 6, nil: undefined }),
    pax: fc.option(fc.tuple(fc.constantFrom(0x78, 0x67), fc.array(fc.tuple(paxKey, paxValue, fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) })), { minLength: 1, maxLength: 3 })), { freq: 4, nil: undefined }),
    gnuLong: fc.option(fc.tuple(fc.constantFrom(0x4c, 0x4b), tarNames(canary)), { freq: 8, nil: undefined }),
    raw: fc.option(fc.record({
      mode: fc.constantFrom(...OCTAL_FIELDS), uid: fc.constantFrom(...OCTAL_FIELDS), gid: fc.constantFrom(...OCTAL_FIELDS),
      size: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...OCTAL_FIELDS) }, {
        weight: 1, // GNU base-256: mostly small values, so the entry still parses
        arbitrary: fc.tuple(fc.constantFrom(0x80, 0x80, 0x80, 0xff, 0x81), fc.integer({ min: 0, max: 4096 })).map(([first, v]) => {
          const u = new Uint8Array(12); u[0] = first; u[10] = v >> 8; u[11] = v & 0xff; return u;
        }),
      }),
      mtime: fc.constantFrom(...OCTAL_FIELDS), magic: fc.constantFrom('ustar\u000000', 'ustar  \0', '', 'garbage!'),
      prefix: fc.constantFrom('', 'pre', '..', '/abs', 'l', 'd/e'), devmajor: fc.constantFrom(...OCTAL_FIELDS), devminor: fc.constantFrom(...OCTAL_FIELDS),
      checksum: fc.constantFrom<RawHeader['checksum']>('good', 'good', 'good', 'good', 'good', 'signed', 'bad'),
    }), { freq: 8, nil: undefined }),
    badPadding: fc.option(fc.integer({ min: -100, max: 100 }), { freq: 15, nil: undefined }),
  });
}
type TarEntrySpec = ArbValue<ReturnType<typeof tarEntry>>;

function encodeEntry(e: TarEntrySpec): Buffer {
  const parts: Buffer[] = [];
  if (e.gnuLong) {
    const data = encodeName(`${e.gnuLong[1]}\0`);
    parts.push(rawHeaderBlock({ name: '././@LongLink', mode: '0000644\0', uid: '0000000\0', gid: '0000000\0', size: `${data.length.toString(8).padStart(11, '0')}\0`,
      mtime: '00000000000\0', typeflag: e.gnuLong[0], linkname: '', magic: 'ustar  \0', prefix: '', devmajor: '', devminor: '', checksum: 'good' }), data, padding(data.length));
  }
  if (e.pax) {
    const data = paxBody(e.pax[1]);
    parts.push(rawHeaderBlock({ name: 'PaxHeader', mode: '0000644\0', uid: '0000000\0', gid: '0000000\0', size: `${data.length.toString(8).padStart(11, '0')}\0`,
      mtime: '00000000000\0', typeflag: e.pax[0], linkname: '', magic: 'ustar\u000000', prefix: '', devmajor: '', devminor: '', checksum: 'good' }), data, padding(data.length));
  }
  const bodyLen = e.type === 'file' || e.rawType !== undefined ? e.body : 0;
  const size = e.sizeLie !== undefined ? Math.max(0, bodyLen + e.sizeLie) : bodyLen;
  const xattrs = e.xattrs ? new Map(e.xattrs.map(([k, v]) => [k, Buffer.from(v)])) : undefined;
  if (e.raw || e.rawType !== undefined || size > 0o77777777777) {
    const r = e.raw;
    const typeflag = e.rawType ?? ({ file: 0x30, link: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36 } as const)[e.type];
    parts.push(rawHeaderBlock({
      name: e.name, linkname: e.linkname, typeflag,
      mode: r?.mode ?? `${e.mode.toString(8).padStart(7, '0')}\0`, uid: r?.uid ?? `${(e.uid % 0o7777777).toString(8).padStart(7, '0')}\0`,
      gid: r?.gid ?? `${(e.gid % 0o7777777).toString(8).padStart(7, '0')}\0`,
      size: r?.size ?? `${Math.min(size, 0o77777777777).toString(8).padStart(11, '0')}\0`, mtime: r?.mtime ?? `${e.mtime.toString(8).padStart(11, '0')}\0`,
      magic: r?.magic ?? 'ustar\u000000', prefix: r?.prefix ?? '', devmajor: r?.devmajor ?? '0000000\0', devminor: r?.devminor ?? '0000000\0',
      checksum: r?.checksum ?? 'good',
    }));
  } else {
    parts.push(encodeHeader({ name: e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size, mtime: e.mtime, linkname: e.linkname || undefined,
      devmajor: e.devmajor, devminor: e.devminor, xattrs }));
  }
  const body = Buffer.alloc(bodyLen, 0x61 + (bodyLen % 26));
  parts.push(body);
  const pad = padding(bodyLen).length + (e.badPadding ?? 0);
  if (pad > 0) parts.push(Buffer.alloc(pad));
  return Buffer.concat(parts);
}

const tailArb = fc.constantFrom<'eoa' | 'one' | 'none' | 'garbage' | 'eoa+garbage'>('eoa', 'eoa', 'eoa', 'one', 'none', 'garbage', 'eoa+garbage');
const transformArb = fc.record({
  kind: fc.constantFrom<'plain' | 'gzip' | 'gzip-truncated' | 'gzip-garbled' | 'gzip-multi' | 'plain-truncated' | 'zstd-garbage'>(
    ...Array<'plain'>(12).fill('plain'), 'gzip', 'gzip', 'gzip', 'gzip', 'gzip', 'gzip-truncated', 'gzip-truncated', 'gzip-garbled', 'gzip-garbled',
    'gzip-multi', 'plain-truncated', 'plain-truncated', 'zstd-garbage'), // zstd spawns a process: kept rare
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
  level: fc.integer({ min: 0, max: 9 }),
});

function finishTar(entries: readonly Buffer[], tail: string, t: ArbValue<typeof transformArb>): Buffer {
  const end = tail === 'eoa' ? Buffer.alloc(1024) : tail === 'one' ? Buffer.alloc(512) : tail === 'none' ? Buffer.alloc(0)
    : tail === 'garbage' ? Buffer.alloc(700, 0x41) : Buffer.concat([Buffer.alloc(1024), Buffer.alloc(300, 0x42)]);
  const tar = Buffer.concat([...entries, end]);
  const flip = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    for (const [at, x] of t.flips) if (c.length > 0) c[Math.floor(at * c.length) % c.length]! ^= x;
    return c;
  };
  switch (t.kind) {
    case 'plain': return tar;
    case 'plain-truncated': return tar.subarray(0, Math.floor(t.at * tar.length));
    case 'gzip': return gzipSync(tar, { level: t.level });
    case 'gzip-truncated': { const g = gzipSync(tar, { level: t.level }); return g.subarray(0, Math.max(2, Math.floor(t.at * g.length))); }
    case 'gzip-garbled': { const g = gzipSync(tar, { level: t.level }); const f = flip(g); f[0] = 0x1f; f[1] = 0x8b; return f; }
    case 'gzip-multi': { const cut = Math.floor(t.at * tar.length); return Buffer.concat([gzipSync(tar.subarray(0, cut)), gzipSync(tar.subarray(cut))]); }
    case 'zstd-garbage': return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), flip(tar.subarray(0, 64))]);
  }
}

/** Structured hostile archives. */
function structuredTar(canary: string): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.array(tarEntry(canary), { maxLength: 7 }), tailArb, transformArb)
    .map(([es, tail, t]) => finishTar(es.map(encodeEntry), tail, t));
}

/** Raw byte mutations of a well-formed tar (optionally gzip-compressed before or after mutating). */
function mutatedTar(): fc.Arbitrary<Buffer> {
  const safeEntry = fc.record({
    name: fc.constantFrom('a', 'a/b', 'd/', 'd/e', 'l', 'f', `long/${'n'.repeat(120)}`, 'ü', 'caf\uDCE9.txt', 'd\uDCFF/n\uDC80'),
    type: fc.constantFrom<TarHeader['type']>('file', 'dir', 'symlink', 'file'),
    body: fc.integer({ min: 0, max: 1500 }),
    pax: fc.boolean(),
  });
  const mutation = fc.record({
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    op: fc.constantFrom('flip', 'set', 'insert', 'delete', 'dup', 'zero-block'),
    byte: fc.integer({ min: 0, max: 255 }),
    len: fc.integer({ min: 1, max: 600 }),
  });
  return fc.tuple(fc.array(safeEntry, { minLength: 1, maxLength: 5 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.constantFrom('none', 'gzip-before', 'gzip-after'), fc.boolean())
    .map(([es, ms, gz, fixSums]) => {
      const parts = es.map((e) => {
        const size = e.type === 'file' ? e.body : 0;
        return Buffer.concat([encodeHeader({ name: e.name, type: e.type, mode: 0o644, uid: 0, gid: 0, size, mtime: 1700000000,
          linkname: e.type === 'symlink' ? 'a' : undefined, xattrs: e.pax ? new Map([['user.k', Buffer.from([0, 1, 2, 0xff])]]) : undefined }),
        Buffer.alloc(size, 0x7a), padding(size)]);
      });
      let b = Buffer.concat([...parts, Buffer.alloc(1024)]);
      if (gz === 'gzip-after') b = gzipSync(b);
      for (const m of ms) {
        const p = b.length === 0 ? 0 : Math.floor(m.at * b.length) % Math.max(1, b.length);
        switch (m.op) {
          case 'flip': if (b.length > 0) { b = Buffer.from(b); b[p]! ^= 1 << (m.byte % 8); } break;
          case 'set': if (b.length > 0) { b = Buffer.from(b); b[p] = m.byte; } break;
          case 'insert': b = Buffer.concat([b.subarray(0, p), Buffer.alloc(m.len % 64 + 1, m.byte), b.subarray(p)]); break;
          case 'delete': b = Buffer.concat([b.subarray(0, p), b.subarray(p + m.len)]); break;
          case 'dup': b = Buffer.concat([b.subarray(0, p + m.len), b.subarray(p)]); break;
          case 'zero-block': b = Buffer.concat([b.subarray(0, p), Buffer.alloc(512), b.subarray(p + 512)]); break;
        }
      }
      // Half the time, repair the checksum of every block that still looks like a header, so the mutation
      // reaches the field parsers and the path policy instead of stopping at the checksum.
      if (fixSums && gz !== 'gzip-after') {
        b = Buffer.from(b);
        for (let off = 0; off + 512 <= b.length; off += 512) {
          if (b.toString('latin1', off + 257, off + 262) !== 'ustar') continue;
          b.fill(0x20, off + 148, off + 156);
          let sum = 0;
          for (let i = off; i < off + 512; i++) sum += b[i]!;
          b.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 8, 'latin1');
        }
      }
      if (gz === 'gzip-before') b = gzipSync(b);
      return b;
    });
}

/** Well-formed archives of hostile entries only: names, links, whiteouts and types, every header valid. */
function hostileTar(canary: string): fc.Arbitrary<Buffer> {
  const entry = fc.record({
    name: tarNames(canary),
    type: fc.constantFrom<TarHeader['type']>('file', 'dir', 'symlink', 'symlink', 'link', 'link', 'fifo', 'char'),
    linkname: linkTargets(canary),
    body: fc.integer({ min: 0, max: 600 }),
    mode: fc.constantFrom(0o644, 0o755, 0o000, 0o4755, 0o1777),
  });
  return fc.tuple(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.boolean()).map(([es, gz]) => {
    const parts = es.map((e) => {
      const size = e.type === 'file' ? e.body : 0;
      return Buffer.concat([encodeHeader({ name: e.name, type: e.type, mode: e.mode, uid: 0, gid: 0, size, mtime: 1700000000,
        linkname: e.type === 'symlink' || e.type === 'link' ? e.linkname || undefined : undefined, devmajor: 1, devminor: 3 }),
      Buffer.alloc(size, 0x68), padding(size)]);
    });
    const tar = Buffer.concat([...parts, Buffer.alloc(1024)]);
    return gz ? gzipSync(tar, { level: 1 }) : tar;
  });
}

export interface TarInput { readonly bytes: Buffer; readonly chunk: number; readonly overlay: boolean }

export function tarInput(canary: string): fc.Arbitrary<TarInput> {
  return fc.record({
    bytes: fc.oneof(
      { weight: 3, arbitrary: structuredTar(canary) },
      { weight: 3, arbitrary: hostileTar(canary) },
      { weight: 3, arbitrary: mutatedTar() },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((u) => Buffer.from(u)) },
    ),
    chunk: fc.constantFrom(1 << 20, 1 << 20, 512, 7, 1000, 65536), // raised to keep at most ~1,000 chunks
    overlay: fc.boolean(),
  });
}

/** Applies one archive into a fresh target and checks the outside of the sandbox did not change. */
export async function runTar(sb: Sandbox, before: string, input: TarInput): Promise<void> {
  await mkdir(sb.target);
  let err: unknown;
  try {
    const chunks: Buffer[] = [];
    const chunk = Math.max(input.chunk, Math.ceil(input.bytes.length / 1000));
    for (let i = 0; i < input.bytes.length; i += chunk) chunks.push(input.bytes.subarray(i, i + chunk));
    await applyLayer(Readable.from(chunks), sb.target, { whiteouts: input.overlay ? 'overlay' : 'apply' });
  } catch (e) {
    err = e;
  }
  const after = snapshotOutside(sb);
  await rm(sb.target, { recursive: true, force: true });
  if (after !== before) {
    throw new PropertyFailure('escape', `files outside the target changed:\n--- before\n${before}\n--- after\n${after}`, { cause: err });
  }
  // xattrs written outside would not show in the snapshot: look for them after inputs that carry any
  // (a process spawn, so only for plain archives naming one; every 100th input covers the compressed ones)
  if (input.bytes.includes('SCHILY.xattr') || ++sb.sinceXattrCheck >= 100) {
    sb.sinceXattrCheck = 0;
    const x = outsideXattrs(sb);
    if (x !== '') throw new PropertyFailure('escape', `xattrs appeared outside the target (this input or one of the 100 before it):\n${x}`, { cause: err });
  }
  if (err !== undefined) throw err;
}

// ------------------------------------------------------------------------------------------- the runner

interface Progress { counter: Int32Array; input: Uint8Array; inputLen: Int32Array }

function recordInput(p: Progress | undefined, input: unknown): void {
  if (p === undefined) return;
  const b = toBytes(input);
  const n = Math.min(b.length, p.input.length);
  b.copy(p.input, 0, 0, n);
  Atomics.store(p.inputLen, 0, n);
}

/** The outcome bucket of a rejected input: the error code, refined by the unsafe-entry reason or the message's first words. */
function outcomeKey(e: TsbuildError): string {
  const reason = (e as TsbuildError & { reason?: unknown }).reason;
  if (typeof reason === 'string') return `${e.code}:${reason}`;
  if (e.code === 'IO') return `${e.code}:${e.name}:${e.message.slice(0, 40)}`;
  if (e.code === 'INVALID_LAYER') {
    const m = e.message.replace(/^invalid layer: /, '').replace(/"[^"]*"/g, '…').replace(/[0-9]+/g, 'N').split(/[ :(]/).slice(0, 4).join(' ');
    return `${e.code}:${m}`;
  }
  return e.code;
}

/** Runs one target in this thread; `progress` (a shared buffer) lets a watchdog see each input. */
export async function fuzzInProcess(target: FuzzTarget, o: FuzzOptions = {}, progress?: Progress): Promise<TargetReport> {
  const runs = o.runs ?? 100_000;
  const seed = o.seed ?? (Date.now() % 2 ** 31);
  const maxInputMs = o.maxInputMs ?? 1000;
  const outcomes: Record<string, number> = {};
  let inputs = 0;
  let slowest = 0;
  let slowestInput = '';
  let peakHeap = 0;
  let peakRss = 0;
  let retimed = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  };
  /** Wraps one execution: timing, outcome classification, and the "only TsbuildError" property. */
  const check = async (input: unknown, f: () => unknown): Promise<void> => {
    recordInput(progress, input);
    const t0 = performance.now();
    let outcome = 'ok';
    let failure: PropertyFailure | undefined;
    try {
      await f();
    } catch (e) {
      if (e instanceof PropertyFailure) failure = e;
      else if (TsbuildError.is(e)) outcome = outcomeKey(e);
      else failure = new PropertyFailure('crash', `threw a non-TsbuildError: ${describeError(e)}`, { cause: e });
    }
    let ms = performance.now() - t0;
    if (ms > maxInputMs && failure === undefined) {
      // Confirm a slow input by running it again: a machine under load makes single timings noisy, while a
      // real hang or super-linear case is slow every time.
      retimed++;
      const t1 = performance.now();
      try { await f(); } catch { /* same outcome as the first run */ }
      ms = Math.min(ms, performance.now() - t1);
    }
    inputs++;
    if (progress) Atomics.add(progress.counter, 0, 1);
    if (inputs % 500 === 0) sample();
    if (ms > slowest) { slowest = ms; slowestInput = show(input, 200); }
    if (failure) throw failure;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (ms > maxInputMs) throw new PropertyFailure('slow', `took ${ms.toFixed(0)} ms (bound ${maxInputMs} ms)`);
  };

  const t0 = performance.now();
  sample();
  let result: fc.RunDetails<[unknown]>;
  let sb: Sandbox | undefined;
  const params = { numRuns: runs, seed, endOnFailure: false, markInterruptAsFailure: true } as const;
  try {
    switch (target) {
      case 'parser':
        result = await fc.check(fc.asyncProperty(parserInput, (s) => check(s, () => runParser(s))), params) as fc.RunDetails<[unknown]>;
        break;
      case 'reference':
        result = await fc.check(fc.asyncProperty(referenceInput, (s) => check(s, () => runReference(s))), params) as fc.RunDetails<[unknown]>;
        break;
      case 'tar': {
        const box = makeSandbox();
        sb = box;
        const before = snapshotOutside(box);
        result = await fc.check(fc.asyncProperty(tarInput(box.canary), (t) => check(t, () => runTar(box, before, t))), params) as fc.RunDetails<[unknown]>;
        break;
      }
      case 'names': {
        const dir = namesSandbox();
        sb = { root: dir } as Sandbox;
        const run = (n: ArbValue<typeof namesInput>): Promise<void> => runNames(dir, n).catch((e: unknown) => {
          throw e instanceof NamesPropertyFailure ? new PropertyFailure('roundtrip', e.message) : e;
        });
        result = await fc.check(fc.asyncProperty(namesInput, (n) => check(n, () => run(n))), params) as fc.RunDetails<[unknown]>;
        break;
      }
    }
  } finally {
    if (sb) rmSync(sb.root, { recursive: true, force: true });
  }
  sample();
  const findings: Finding[] = [];
  if (result.failed) {
    const ce = result.counterexample?.[0];
    const err = result.errorInstance;
    const kind = err instanceof PropertyFailure ? err.kind : 'crash';
    const message = err instanceof PropertyFailure
      ? `${err.message}${err.cause !== undefined && kind !== 'crash' ? `\ncause: ${describeError(err.cause)}` : ''}`
      : describeError(err ?? 'property failed');
    const file = ce !== undefined ? writeFinding(o, target, ce) : undefined;
    findings.push({ kind, message: `${message}\n(seed ${seed}, path ${result.counterexamplePath ?? '?'}, shrunk ${result.numShrinks} times)`,
      input: show(ce), ...(file !== undefined ? { file } : {}) });
  }
  return {
    target, seed, inputs, wallMs: performance.now() - t0, maxInputMs: slowest, slowestInput,
    peakRssMb: Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / MB, peakHeapMb: peakHeap / MB, outcomes, findings, retimed,
  };
}

function findingsDir(o: FuzzOptions): string {
  return o.findingsDir ?? join(repoRoot(), 'bench', 'results', 'fuzz-findings');
}

function writeFinding(o: FuzzOptions, target: FuzzTarget, input: unknown): string | undefined {
  try {
    const dir = findingsDir(o);
    mkdirSync(dir, { recursive: true });
    const bytes = toBytes(input);
    const file = join(dir, `${target}-${Date.now()}.${target === 'tar' ? 'tar' : 'txt'}`);
    writeFileSync(file, bytes);
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Fuzzes one target and returns its report. With `isolate` (default) the work runs in a worker thread
 * with a 2 GiB heap cap, and a watchdog reports a hang (with the input being processed) when no input
 * finishes within `hangMs`.
 */
export async function fuzzTarget(target: FuzzTarget, o: FuzzOptions = {}): Promise<TargetReport> {
  const seed = o.seed ?? (Date.now() % 2 ** 31);
  if (o.isolate === false) return fuzzInProcess(target, { ...o, seed });
  const jobs = Math.max(1, Math.min(o.jobs ?? 1, o.runs ?? 100_000));
  if (jobs === 1) return fuzzWorker(target, { ...o, seed });
  // Split the runs over `jobs` workers (worker i uses seed + i), then merge their reports.
  const runs = o.runs ?? 100_000;
  const t0 = performance.now();
  const parts = await Promise.all(Array.from({ length: jobs }, (_, i) =>
    fuzzWorker(target, { ...o, seed: seed + i, runs: Math.floor(runs / jobs) + (i < runs % jobs ? 1 : 0) })));
  const outcomes: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const slowest = parts.reduce((a, b) => (b.maxInputMs > a.maxInputMs ? b : a));
  return {
    target, seed, jobs, inputs: parts.reduce((n, p) => n + p.inputs, 0), wallMs: performance.now() - t0,
    maxInputMs: Math.max(...parts.map((p) => p.maxInputMs)), slowestInput: slowest.slowestInput,
    peakRssMb: Math.max(...parts.map((p) => p.peakRssMb)), peakHeapMb: Math.max(...parts.map((p) => p.peakHeapMb)),
    outcomes, findings: parts.flatMap((p) => p.findings), retimed: parts.reduce((n, p) => n + (p.retimed ?? 0), 0),
  };
}

async function fuzzWorker(target: FuzzTarget, o: FuzzOptions & { seed: number }): Promise<TargetReport> {
  const seed = o.seed;
  const hangMs = o.hangMs ?? 15_000;
  const shared = new SharedArrayBuffer(8 + HEARTBEAT_BYTES);
  const progress: Progress = { counter: new Int32Array(shared, 0, 1), inputLen: new Int32Array(shared, 4, 1), input: new Uint8Array(shared, 8) };
  const t0 = performance.now();
  // Under tsx (tests, `npx tsx bench/fuzz.ts`) the worker registers the TypeScript loader before loading this file.
  const self = import.meta.url;
  const entry = self.endsWith('.ts')
    ? new URL(`data:text/javascript,import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(self)}))`)
    : new URL(self);
  const w = new Worker(entry, {
    workerData: { target, o: { ...o, seed }, shared },
    resourceLimits: { maxOldGenerationSizeMb: 2048 },
  });
  let peakRss = 0;
  return new Promise<TargetReport>((resolve) => {
    let last = -1;
    let lastChange = performance.now();
    let done = false;
    const finish = (r: TargetReport): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      resolve({ ...r, peakRssMb: Math.max(r.peakRssMb, peakRss / MB, process.resourceUsage().maxRSS / 1024) });
    };
    const failed = (kind: Finding['kind'], message: string): void => {
      const input = Buffer.from(progress.input.subarray(0, Atomics.load(progress.inputLen, 0)));
      const file = writeFinding(o, target, input);
      finish({
        target, seed, inputs: Atomics.load(progress.counter, 0), wallMs: performance.now() - t0, maxInputMs: NaN, slowestInput: '',
        peakRssMb: 0, peakHeapMb: NaN, outcomes: {},
        findings: [{ kind, message: `${message} (seed ${seed})`, input: show(target === 'tar' ? input : input.toString('utf8')), ...(file !== undefined ? { file } : {}) }],
      });
      void w.terminate();
    };
    let lastPrint = performance.now();
    const timer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const c = Atomics.load(progress.counter, 0);
      if (o.progress === true && performance.now() - lastPrint > 30_000) {
        lastPrint = performance.now();
        process.stderr.write(`fuzz: ${target} (seed ${seed}): ${c.toLocaleString('en-US')}/${(o.runs ?? 100_000).toLocaleString('en-US')} inputs\n`);
      }
      if (c !== last) { last = c; lastChange = performance.now(); return; }
      if (performance.now() - lastChange > hangMs) failed('hang', `no input finished for ${hangMs} ms after input #${c + 1} started`);
    }, 250);
    w.on('message', (r: TargetReport) => finish(r));
    w.on('error', (e: Error & { code?: string }) => failed(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', `worker died: ${describeError(e)}`));
    w.on('exit', (code) => { if (!done) failed('crash', `worker exited with code ${code}`); });
  });
}

/** Renders the reports as the Markdown summary written to bench/results/fuzz.md. */
export function summarize(reports: readonly TargetReport[], command: string): string {
  const lines = [
    '# Fuzzing summary', '',
    `Command: \`${command}\`  `, `Date: ${new Date().toISOString()}, Node ${process.version}, fast-check ${fc.__version}`, '',
    '| target | inputs | seed (× jobs) | time (s) | inputs/s | max per-input (ms) | peak RSS (MiB) | peak heap (MiB) | findings |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of reports) {
    lines.push(`| ${r.target} | ${r.inputs.toLocaleString('en-US')} | ${r.seed}${(r.jobs ?? 1) > 1 ? ` × ${r.jobs}` : ''} | ${(r.wallMs / 1000).toFixed(1)} | ${Math.round(r.inputs / (r.wallMs / 1000)).toLocaleString('en-US')} | ${r.maxInputMs.toFixed(1)} | ${r.peakRssMb.toFixed(0)} | ${r.peakHeapMb.toFixed(0)} | ${r.findings.length} |`);
  }
  lines.push('', 'Max per-input is the slower-than-bound input\'s confirmed time: an input over the bound is run again and fails only if it is slow twice.');
  for (const r of reports) if ((r.retimed ?? 0) > 0) lines.push(`- ${r.target}: ${r.retimed} input(s) re-timed after a slow first run (machine load); all were under the bound the second time.`);
  lines.push('', 'Outcomes (ok, or the TsbuildError code each rejected input ended with):', '');
  for (const r of reports) {
    const oc = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
    lines.push(`- ${r.target}: ${oc || '(none)'}`);
  }
  lines.push('', 'Slowest input per target:', '');
  for (const r of reports) lines.push(`- ${r.target} (${r.maxInputMs.toFixed(1)} ms): ${r.slowestInput.slice(0, 160).replace(/`/g, "'")}`);
  const findings = reports.flatMap((r) => r.findings.map((f) => ({ ...f, target: r.target })));
  lines.push('', findings.length === 0 ? 'Findings: none.' : `Findings: ${findings.length}`);
  for (const f of findings) {
    const msg = f.message.length > 3000 ? `${f.message.slice(0, 3000)}… (${f.message.length} chars)` : f.message;
    lines.push('', `## ${f.target}: ${f.kind}`, '', '```', msg, '```', '', `Input: \`${f.input.slice(0, 300).replace(/`/g, "'")}\`${f.file ? ` (full input: ${f.file})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

function parseArgs(argv: readonly string[]): { targets: FuzzTarget[]; o: FuzzOptions } {
  const o: { runs?: number; seed?: number; maxInputMs?: number; hangMs?: number; isolate?: boolean; jobs?: number } = {};
  const targets: FuzzTarget[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = Number(val());
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${k} needs a non-negative integer`);
      return v;
    };
    switch (k) {
      case '--runs': o.runs = num(); break;
      case '--seed': o.seed = num(); break;
      case '--max-input-ms': o.maxInputMs = num(); break;
      case '--hang-ms': o.hangMs = num(); break;
      case '--no-worker': o.isolate = false; break;
      case '--jobs': o.jobs = num(); break;
      case '--target':
        for (const t of val().split(',')) {
          if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t} (parser|reference|tar|names)`);
          targets.push(t as FuzzTarget);
        }
        break;
      case '--help':
        process.stdout.write('usage: node dist/bench/fuzz.js [--runs N] [--target parser|reference|tar|names[,…]] [--seed S] [--max-input-ms MS] [--hang-ms MS] [--jobs N] [--no-worker]\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  return { targets: targets.length > 0 ? targets : [...TARGETS], o };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const seed = args.o.seed ?? (Date.now() % 2 ** 31);
  const runs = args.o.runs ?? 100_000;
  const reports: TargetReport[] = [];
  for (const t of args.targets) {
    process.stderr.write(`fuzz: ${t}: ${runs.toLocaleString('en-US')} inputs, seed ${seed}…\n`);
    // tar inputs wait on the filesystem and child processes: two workers keep both CPUs busy
    const r = await fuzzTarget(t, { ...args.o, seed, runs, progress: true, jobs: args.o.jobs ?? (t === 'tar' ? Math.min(2, availableParallelism()) : 1) });
    process.stderr.write(`fuzz: ${t}: ${r.inputs} inputs in ${(r.wallMs / 1000).toFixed(1)} s, ${r.findings.length} finding(s)\n`);
    reports.push(r);
  }
  const command = `node dist/bench/fuzz.js --runs ${runs} --target ${args.targets.join(',')} --seed ${seed}${args.o.jobs !== undefined ? ` --jobs ${args.o.jobs}` : ''}`;
  const md = summarize(reports, command);
  const out = join(repoRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'fuzz.md'), md);
  process.stdout.write(md);
  process.exitCode = reports.some((r) => r.findings.length > 0) ? 1 : 0;
}

if (!isMainThread && workerData && (workerData as { shared?: unknown }).shared instanceof SharedArrayBuffer) {
  const { target, o, shared } = workerData as { target: FuzzTarget; o: FuzzOptions; shared: SharedArrayBuffer };
  const progress: Progress = { counter: new Int32Array(shared, 0, 1), inputLen: new Int32Array(shared, 4, 1), input: new Uint8Array(shared, 8) };
  fuzzInProcess(target, o, progress).then((r) => parentPort!.postMessage(r), (e: unknown) => { throw e; });
} else if (isMainThread && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main();
}
