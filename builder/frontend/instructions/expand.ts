/**
 * Expansion of typed instructions with the stage's variables: exactly the fields BuildKit expands
 * (SupportsSingleWordExpansion). RUN's --mount values are expanded by builder/plan (expandRunMounts).
 */
import { DockerfileError } from '../errors.js';
import type { Instruction, InstructionKind, InstructionLocation } from './types.js';
import { opt } from './opt.js';

// ---------------------------------------------------------------------------------------------------------
// Expansion: BuildKit's SupportsSingleWordExpansion. RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/MAINTAINER/ONBUILD are
// never expanded by the builder (the shell does it at run time); FROM is expanded with meta args by the stage
// resolver; EXPOSE entries expand into several words.

/** Which fields of which instruction the builder expands with the stage env (documentation and lint). */
export const EXPANDED_FIELDS: Readonly<Record<InstructionKind, readonly string[]>> = {
  from: ['image (meta args only)', 'platform (meta args only)'],
  run: ['mounts (every --mount value, by builder/plan expandRunMounts, not by expandInstruction)'],
  copy: ['sources', 'dest', 'from', 'chown', 'chmod', 'exclude', 'sourceContents (when expand)'],
  add: ['sources', 'dest', 'chown', 'chmod', 'checksum', 'exclude', 'sourceContents (when expand)'],
  env: ['pairs.key', 'pairs.value'],
  arg: ['args.key', 'args.value'],
  label: ['pairs.key', 'pairs.value'],
  expose: ['ports (split into words)'],
  volume: ['volumes'],
  user: ['user'],
  workdir: ['path'],
  stopsignal: ['signal'],
  cmd: [],
  entrypoint: [],
  shell: [],
  healthcheck: [],
  onbuild: [],
  maintainer: [],
};

/** True when the builder expands variables in some field of this instruction (FROM is handled by stages). */
export function supportsExpansion(kind: InstructionKind): boolean {
  return kind !== 'from' && EXPANDED_FIELDS[kind].length > 0;
}

export interface Expander {
  /** Expands one word to one string (shell.processWord with the stage env). */
  word(w: string): string;
  /** Expands one word to several (shell.processWords with the stage env); used by EXPOSE. */
  words(w: string): string[];
  /**
   * Expands an unquoted heredoc body (BuildKit's ExpandRaw: escape `\` whatever the directive, quotes kept as
   * ordinary characters); default `word`.
   */
  raw?(w: string): string;
}

/**
 * Returns a copy of `ins` with the fields BuildKit expands replaced by their expansion. Instructions that are
 * not expanded are returned unchanged; so is RUN, whose --mount values builder/plan's expandRunMounts expands
 * (once, into the final RunMount[]). Errors from the expander get the instruction's location.
 */
export function expandInstruction<T extends Instruction>(ins: T, ex: Expander): T {
  return expandAny(ins, ex) as T;
}

function expandAny(ins: Instruction, ex: Expander): Instruction {
  const loc = ins.location;
  const w = (s: string): string => withLoc(() => ex.word(s), loc);
  const wo = (s: string | undefined): string | undefined => (s === undefined ? undefined : w(s));
  const raw = (s: string): string => withLoc(() => (ex.raw ? ex.raw(s) : ex.word(s)), loc);
  switch (ins.kind) {
    case 'env':
    case 'label':
      return { ...ins, pairs: ins.pairs.map((p) => ({ ...p, key: w(p.key), value: w(p.value) })) };
    case 'arg':
      return { ...ins, args: ins.args.map((a) => (a.value === undefined ? { key: w(a.key) } : { key: w(a.key), value: w(a.value) })) };
    case 'copy': {
      const c = ins;
      return {
        ...c, sources: c.sources.map(w), dest: w(c.dest), exclude: c.exclude.map(w),
        ...opt('from', wo(c.from)), ...opt('chown', wo(c.chown)), ...opt('chmod', wo(c.chmod)),
        sourceContents: c.sourceContents.map((s) => (s.expand ? { ...s, data: raw(s.data) } : s)),
      };
    }
    case 'add': {
      const a = ins;
      return {
        ...a, sources: a.sources.map(w), dest: w(a.dest), exclude: a.exclude.map(w),
        ...opt('chown', wo(a.chown)), ...opt('chmod', wo(a.chmod)), ...opt('checksum', wo(a.checksum)),
        sourceContents: a.sourceContents.map((s) => (s.expand ? { ...s, data: raw(s.data) } : s)),
      };
    }
    case 'expose':
      return { ...ins, ports: ins.ports.flatMap((p) => withLoc(() => ex.words(p), loc)) };
    case 'volume':
      return { ...ins, volumes: ins.volumes.map(w) };
    case 'user':
      return { ...ins, user: w(ins.user) };
    case 'workdir':
      return { ...ins, path: w(ins.path) };
    case 'stopsignal':
      return { ...ins, signal: w(ins.signal) };
    default:
      return ins;
  }
}

function withLoc<R>(f: () => R, loc: InstructionLocation): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof DockerfileError && e.location === undefined) e.location = loc;
    throw e;
  }
}
