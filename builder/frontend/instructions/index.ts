/**
 * Typed Dockerfile instructions (BuildKit's frontend/dockerfile/instructions): one parse tree node → one
 * validated, typed command with its flags parsed per instruction. No variable expansion happens here;
 * `expandInstruction` applies it later with the stage's env, for the fields BuildKit expands.
 */
import { chompHeredocContent, type Heredoc, type InstructionNode } from '../parser/index.js';
import { DockerfileError, suggest } from '../errors.js';
import { FlagSet, parseGoDuration, type FlagLocation } from './flags.js';
import { parseMountSpec, type ParsedMount } from './mount.js';

export { parseMount, parseMountSpec, interpretMount, parseCsvRecord, ramInBytes, type RunMount, type MountType, type MountSharing, type MountField, type ParsedMount } from './mount.js';
export { FLAGS_BY_INSTRUCTION, parseGoDuration } from './flags.js';

export interface InstructionLocation {
  readonly file: string;
  /** First line, 1-based. */
  readonly line: number;
  /** Last line, 1-based. */
  readonly endLine: number;
}

interface Base {
  readonly location: InstructionLocation;
  /** The instruction as written (continuations joined), trimmed. */
  readonly original: string;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** True for the legacy `ENV name value` form (no `=`). */
  readonly noDelim: boolean;
}

/** A heredoc used as a COPY/ADD source: the file `path` gets `data` (expanded at build time when `expand`). */
export interface SourceContent {
  readonly path: string;
  readonly data: string;
  readonly expand: boolean;
}

export interface FromInstruction extends Base {
  readonly kind: 'from';
  /** The base image expression as written (expanded with meta args when stages are resolved). */
  readonly image: string;
  /** `AS name`, lower-cased; undefined for an unnamed stage. */
  readonly stageName?: string;
  /** `--platform` as written. */
  readonly platform?: string;
}

export interface RunInstruction extends Base {
  readonly kind: 'run';
  /** Exec form: the argv. Shell form: one string, run with the stage's SHELL. */
  readonly cmdLine: readonly string[];
  /** True for shell form. */
  readonly prependShell: boolean;
  /** Heredocs attached to the command (files fed to the shell). */
  readonly heredocs: readonly Heredoc[];
  /**
   * The `--mount` values, in order, each parsed once (ParsedMount: the value as written, its fields, and what
   * they say before expansion). builder/plan's expandRunMounts turns them into the final RunMount[].
   */
  readonly mounts: readonly ParsedMount[];
  readonly network?: 'default' | 'none' | 'host';
  readonly security?: 'sandbox' | 'insecure';
  readonly flagsUsed: readonly string[];
}

interface CopyLike extends Base {
  readonly sources: readonly string[];
  readonly sourceContents: readonly SourceContent[];
  readonly dest: string;
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  readonly exclude: readonly string[];
}

export interface CopyInstruction extends CopyLike {
  readonly kind: 'copy';
  /** `--from=` as written: a stage name, a stage index, or an image reference. */
  readonly from?: string;
  readonly parents: boolean;
}

export interface AddInstruction extends CopyLike {
  readonly kind: 'add';
  readonly keepGitDir: boolean;
  readonly checksum?: string;
  /** `--unpack` when given (undefined: the default, unpack local archives only). */
  readonly unpack?: boolean;
}

export interface EnvInstruction extends Base {
  readonly kind: 'env';
  readonly pairs: readonly KeyValue[];
}
export interface ArgDeclaration {
  readonly key: string;
  /** The default as written; undefined for `ARG NAME`. */
  readonly value?: string;
}
export interface ArgInstruction extends Base {
  readonly kind: 'arg';
  readonly args: readonly ArgDeclaration[];
}
export interface LabelInstruction extends Base {
  readonly kind: 'label';
  readonly pairs: readonly KeyValue[];
}
export interface ExposeInstruction extends Base {
  readonly kind: 'expose';
  /** Sorted as BuildKit does; each entry may expand into several ports (processWords). */
  readonly ports: readonly string[];
}
export interface VolumeInstruction extends Base {
  readonly kind: 'volume';
  readonly volumes: readonly string[];
}
export interface UserInstruction extends Base {
  readonly kind: 'user';
  readonly user: string;
}
export interface WorkdirInstruction extends Base {
  readonly kind: 'workdir';
  readonly path: string;
}
export interface CmdInstruction extends Base {
  readonly kind: 'cmd';
  readonly cmdLine: readonly string[];
  readonly prependShell: boolean;
}
export interface EntrypointInstruction extends Base {
  readonly kind: 'entrypoint';
  /** Empty (`ENTRYPOINT []`) clears the entrypoint. */
  readonly cmdLine: readonly string[];
  readonly prependShell: boolean;
}
export interface ShellInstruction extends Base {
  readonly kind: 'shell';
  readonly shell: readonly string[];
}
export interface StopSignalInstruction extends Base {
  readonly kind: 'stopsignal';
  readonly signal: string;
}
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", ...argv]` or `["CMD-SHELL", command]` (OCI/Docker config form). */
  readonly test: readonly string[];
  /** Durations in nanoseconds; 0 = inherit the default. */
  readonly interval: number;
  readonly timeout: number;
  readonly startPeriod: number;
  readonly startInterval: number;
  readonly retries: number;
}
export interface HealthcheckInstruction extends Base {
  readonly kind: 'healthcheck';
  readonly health: HealthConfig;
}
export interface OnbuildInstruction extends Base {
  readonly kind: 'onbuild';
  /** The trigger text stored in the image config (`OnBuild`), heredoc bodies appended as BuildKit does. */
  readonly expression: string;
  /** The wrapped instruction, parsed and validated. */
  readonly trigger: Instruction;
}
export interface MaintainerInstruction extends Base {
  readonly kind: 'maintainer';
  readonly maintainer: string;
}

export type Instruction =
  | FromInstruction | RunInstruction | CopyInstruction | AddInstruction | EnvInstruction | ArgInstruction
  | LabelInstruction | ExposeInstruction | VolumeInstruction | UserInstruction | WorkdirInstruction | CmdInstruction
  | EntrypointInstruction | ShellInstruction | StopSignalInstruction | HealthcheckInstruction | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

/** Every instruction keyword tsbuild (and BuildKit) accepts. */
export const INSTRUCTIONS: readonly InstructionKind[] = [
  'from', 'run', 'copy', 'add', 'env', 'arg', 'label', 'expose', 'volume', 'user', 'workdir', 'cmd', 'entrypoint',
  'shell', 'stopsignal', 'healthcheck', 'onbuild', 'maintainer',
];

/**
 * Converts one parse-tree node into a typed instruction, validating its flags and arguments as BuildKit does.
 * Throws DockerfileError (DOCKERFILE_UNKNOWN_INSTRUCTION, DOCKERFILE_BAD_FLAG, DOCKERFILE_BAD_ARGUMENT) with {file,line}.
 */
export function parseInstruction(node: InstructionNode, file: string): Instruction {
  const location: InstructionLocation = { file, line: node.line, endLine: node.endLine };
  const original = node.original.trim();
  const base = { location, original };
  const args = node.args;
  const flags = (): FlagSet => new FlagSet(node.cmd, node.flags, location);
  const bad = (msg: string, hint: string): DockerfileError =>
    new DockerfileError('DOCKERFILE_BAD_ARGUMENT', msg, { hint, location });
  const exactlyOne = (name: string, what: string): string => {
    if (args.length !== 1) throw bad(`${name} requires exactly one argument`, `write ${name} ${what}`);
    return args[0]!;
  };
  const atLeastOne = (name: string, what: string): void => {
    if (args.length === 0) throw bad(`${name} requires at least one argument`, `write ${name} ${what}`);
  };

  switch (node.cmd) {
    case 'from': {
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(stageName)) {
          throw bad(`invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
            'stage names start with a letter and contain only letters, digits, "-", "_" and "."');
        }
      } else if (args.length !== 1) {
        throw bad('FROM requires either one or three arguments', 'write FROM image or FROM image AS name');
      }
      const f = flags().string('platform').parse();
      return { kind: 'from', ...base, image: args[0]!, ...opt('stageName', stageName), ...opt('platform', f.getString('platform')) };
    }
    case 'run': {
      const f = flags().strings('mount').string('network').string('security').parse();
      const network = f.getString('network');
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) {
        throw new DockerfileError('DOCKERFILE_BAD_FLAG', `unsupported network mode ${JSON.stringify(network)}`, {
          hint: 'RUN --network is one of default, none, host', location });
      }
      const security = f.getString('security');
      if (security !== undefined && !['sandbox', 'insecure'].includes(security)) {
        throw new DockerfileError('DOCKERFILE_BAD_FLAG', `unsupported security mode ${JSON.stringify(security)}`, {
          hint: 'RUN --security is sandbox or insecure', location });
      }
      return {
        kind: 'run', ...base,
        ...shellDependent(node),
        heredocs: node.heredocs,
        mounts: f.getStrings('mount').map((s) => parseMountSpec(s, location)),
        ...opt('network', network as RunInstruction['network']),
        ...opt('security', security as RunInstruction['security']),
        flagsUsed: f.usedNames(),
      };
    }
    case 'copy': {
      if (args.length < 2) throw bad('COPY requires at least two arguments, but only one was provided. Destination could not be determined.', 'write COPY <src>... <dest>');
      const f = flags().strings('exclude').bool('parents').string('chown').string('from').string('chmod').bool('link').parse();
      return {
        kind: 'copy', ...base, ...sourcesAndDest(node, 'COPY', location),
        ...opt('from', f.getString('from')), ...opt('chown', f.getString('chown')), ...opt('chmod', f.getString('chmod')),
        link: f.getBool('link'), parents: f.getBool('parents'), exclude: f.getStrings('exclude'),
      };
    }
    case 'add': {
      if (args.length < 2) throw bad('ADD requires at least two arguments, but only one was provided. Destination could not be determined.', 'write ADD <src>... <dest>');
      const f = flags().strings('exclude').string('chown').string('chmod').bool('link').bool('keep-git-dir').string('checksum').bool('unpack').parse();
      return {
        kind: 'add', ...base, ...sourcesAndDest(node, 'ADD', location),
        ...opt('chown', f.getString('chown')), ...opt('chmod', f.getString('chmod')),
        link: f.getBool('link'), exclude: f.getStrings('exclude'), keepGitDir: f.getBool('keep-git-dir'),
        ...opt('checksum', f.getString('checksum')),
        ...opt('unpack', f.used('unpack') ? f.getBool('unpack') : undefined),
      };
    }
    case 'env':
    case 'label': {
      flags().parse();
      const name = node.cmd.toUpperCase();
      if (args.length === 0) throw bad(`${name} requires at least one argument`, `write ${name} key=value`);
      if (args.length % 3 !== 0) throw bad(`${name}: malformed key/value list`, `write ${name} key=value ...`);
      const pairs: KeyValue[] = [];
      for (let i = 0; i < args.length; i += 3) {
        const key = args[i]!;
        if (key.length === 0) throw bad(`${name} names can not be blank`, `write ${name} NAME=value (the name is missing before "=")`);
        pairs.push({ key, value: args[i + 1]!, noDelim: args[i + 2] === '' });
      }
      return node.cmd === 'env' ? { kind: 'env', ...base, pairs } : { kind: 'label', ...base, pairs };
    }
    case 'arg': {
      flags().parse();
      atLeastOne('ARG', 'NAME[=default]');
      const decl: ArgDeclaration[] = args.map((a) => {
        const eq = a.indexOf('=');
        const key = eq < 0 ? a : a.slice(0, eq);
        if (key.length === 0) throw bad('ARG names can not be blank', 'write ARG NAME[=default] (the name is missing before "=")');
        if (/[\s'"]/u.test(key)) throw bad(`invalid ARG name ${JSON.stringify(key)}`, 'ARG names may not contain spaces or quotes');
        return eq < 0 ? { key } : { key, value: a.slice(eq + 1) };
      });
      return { kind: 'arg', ...base, args: decl };
    }
    case 'expose': {
      atLeastOne('EXPOSE', 'port[/proto]...');
      flags().parse();
      const ports = [...args].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return { kind: 'expose', ...base, ports };
    }
    case 'volume': {
      atLeastOne('VOLUME', '/path...');
      flags().parse();
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw bad('VOLUME specified can not be an empty string', 'give VOLUME a path');
      return { kind: 'volume', ...base, volumes };
    }
    case 'user': {
      const user = exactlyOne('USER', 'user[:group]');
      flags().parse();
      return { kind: 'user', ...base, user };
    }
    case 'workdir': {
      const path = exactlyOne('WORKDIR', '/path');
      flags().parse();
      return { kind: 'workdir', ...base, path };
    }
    case 'cmd': {
      flags().parse();
      return { kind: 'cmd', ...base, ...shellDependent(node) };
    }
    case 'entrypoint': {
      flags().parse();
      return { kind: 'entrypoint', ...base, ...shellDependent(node) };
    }
    case 'shell': {
      flags().parse();
      const sh = shellDependent(node);
      if (sh.cmdLine.length === 0) throw bad('SHELL requires at least one argument', 'write SHELL ["executable", "parameters"]');
      if (sh.prependShell) {
        throw bad(`SHELL requires the arguments to be in JSON form`, `write SHELL ["${args.join(' ').split(/\s+/).join('", "')}"]`);
      }
      return { kind: 'shell', ...base, shell: sh.cmdLine };
    }
    case 'stopsignal': {
      const signal = exactlyOne('STOPSIGNAL', 'SIGNAL');
      flags().parse();
      return { kind: 'stopsignal', ...base, signal };
    }
    case 'maintainer': {
      const maintainer = exactlyOne('MAINTAINER', 'name (or better: LABEL org.opencontainers.image.authors=...)');
      flags().parse();
      return { kind: 'maintainer', ...base, maintainer };
    }
    case 'healthcheck':
      return { kind: 'healthcheck', ...base, health: parseHealth(node, location) };
    case 'onbuild': {
      const next = node.next;
      const word = next?.cmd ?? args[0];
      if (word === undefined || word.trim() === '') throw bad('ONBUILD requires at least one argument', 'write ONBUILD <instruction>');
      flags().parse();
      const trig = word.trim().toUpperCase();
      if (trig === 'ONBUILD') throw bad('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', 'remove the second ONBUILD');
      if (trig === 'MAINTAINER' || trig === 'FROM') throw bad(`${trig} isn't allowed as an ONBUILD trigger`, 'use another instruction as the trigger');
      if (next === undefined) throw bad('ONBUILD requires an instruction to wrap', 'write ONBUILD <instruction>');
      let expression = node.original.replace(/^\s*ONBUILD\s*/iu, '');
      for (const h of node.heredocs.length > 0 ? node.heredocs : next.heredocs) expression += '\n' + h.content + h.name;
      const trigger = parseInstruction(next, file);
      return { kind: 'onbuild', ...base, expression, trigger };
    }
    default: {
      const s = suggest(node.cmd, INSTRUCTIONS);
      throw new DockerfileError('DOCKERFILE_UNKNOWN_INSTRUCTION', `unknown instruction: ${node.cmd.toUpperCase()}`, {
        hint: s !== undefined ? `did you mean ${s.toUpperCase()}?` : `instructions are ${INSTRUCTIONS.map((i) => i.toUpperCase()).join(', ')}`,
        location,
      });
    }
  }
}

/** `{ [k]: v }` when v is defined, `{}` otherwise (exactOptionalPropertyTypes-friendly). */
function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

function shellDependent(node: InstructionNode): { cmdLine: string[]; prependShell: boolean } {
  return { cmdLine: jsonArgs(node.args, node.json), prependShell: !node.json };
}

function jsonArgs(args: readonly string[], json: boolean): string[] {
  if (args.length === 0) return [];
  if (json) return [...args];
  return [args.join(' ')];
}

const HEREDOC_WORD = /^(\d*)<<(-?)\s*([^<]*)$/u;

/** Returns the heredoc a COPY/ADD argument names, when it is `<<NAME` and the parser read such a heredoc. */
function heredocOf(word: string, node: InstructionNode): Heredoc | undefined {
  if (node.json) return undefined;
  const m = HEREDOC_WORD.exec(word);
  if (m === null) return undefined;
  const name = unquote(m[3]!);
  if (name === '') return undefined;
  return node.heredocs.find((h) => h.name === name);
}

function unquote(s: string): string {
  let out = '';
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q !== undefined) {
      if (c === q) q = undefined;
      else out += c;
    } else if (c === "'" || c === '"') q = c;
    else if (c === '\\' && i + 1 < s.length) out += s[++i];
    else out += c;
  }
  return out;
}

function sourcesAndDest(node: InstructionNode, name: string, location: InstructionLocation): {
  sources: string[]; sourceContents: SourceContent[]; dest: string;
} {
  const args = node.args;
  const dest = args[args.length - 1]!;
  if (heredocOf(dest, node) !== undefined) {
    throw new DockerfileError('DOCKERFILE_BAD_ARGUMENT', `${name} cannot accept a heredoc as a destination`, {
      hint: `write the heredoc as a source: ${name} <<EOF /path/to/file`, location });
  }
  const sources: string[] = [];
  const sourceContents: SourceContent[] = [];
  for (const src of args.slice(0, -1)) {
    const h = heredocOf(src, node);
    if (h === undefined) sources.push(src);
    else sourceContents.push({ path: h.name, data: h.chomp ? chompHeredocContent(h.content) : h.content, expand: h.expand });
  }
  return { sources, sourceContents, dest };
}

function parseHealth(node: InstructionNode, location: FlagLocation): HealthConfig {
  const args = node.args;
  const bad = (msg: string, hint: string): DockerfileError => new DockerfileError('DOCKERFILE_BAD_ARGUMENT', msg, { hint, location });
  if (args.length === 0) throw bad('HEALTHCHECK requires at least one argument', 'write HEALTHCHECK [options] CMD command, or HEALTHCHECK NONE');
  let typ = args[0]!.toUpperCase();
  const rest = args.slice(1);
  const none = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (typ === 'NONE') {
    if (rest.length !== 0) throw bad('HEALTHCHECK NONE takes no arguments', 'write HEALTHCHECK NONE');
    return { test: ['NONE'], ...none };
  }
  const f = new FlagSet('healthcheck', node.flags, location)
    .string('interval').string('timeout').string('start-period').string('start-interval').string('retries').parse();
  if (typ !== 'CMD') throw bad(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`, 'write HEALTHCHECK [options] CMD command');
  const cmd = jsonArgs(rest, node.json);
  if (cmd.length === 0) throw bad('Missing command after HEALTHCHECK CMD', 'write HEALTHCHECK CMD command');
  if (!node.json) typ = 'CMD-SHELL';
  const dur = (flag: string): number => {
    const s = f.getString(flag) ?? '';
    if (s === '') return 0;
    const d = parseGoDuration(s);
    if (d === undefined) {
      throw new DockerfileError('DOCKERFILE_BAD_FLAG', `HEALTHCHECK --${flag}: invalid duration ${JSON.stringify(s)}`, {
        hint: 'durations look like 30s, 1m30s, 500ms', location });
    }
    if (d !== 0 && d < 1e6) {
      throw new DockerfileError('DOCKERFILE_BAD_FLAG', `HEALTHCHECK --${flag}: interval cannot be less than 1ms`, { hint: 'use 1ms or more (or 0 for the default)', location });
    }
    if (d < 0) throw new DockerfileError('DOCKERFILE_BAD_FLAG', `HEALTHCHECK --${flag} cannot be negative`, { hint: 'use a positive duration', location });
    return d;
  };
  let retries = 0;
  const r = f.getString('retries') ?? '';
  if (r !== '') {
    if (!/^[+-]?\d+$/.test(r) || Math.abs(Number(r)) > 2 ** 31 - 1) {
      throw new DockerfileError('DOCKERFILE_BAD_FLAG', `HEALTHCHECK --retries: invalid number ${JSON.stringify(r)}`, { hint: 'give a whole number', location });
    }
    retries = Number(r);
    if (retries < 0) throw new DockerfileError('DOCKERFILE_BAD_FLAG', `--retries cannot be negative (${retries})`, { hint: 'give 0 or more', location });
  }
  return {
    test: [typ, ...cmd], interval: dur('interval'), timeout: dur('timeout'), startPeriod: dur('start-period'),
    startInterval: dur('start-interval'), retries,
  };
}

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
        sourceContents: c.sourceContents.map((s) => (s.expand ? { ...s, data: w(s.data) } : s)),
      };
    }
    case 'add': {
      const a = ins;
      return {
        ...a, sources: a.sources.map(w), dest: w(a.dest), exclude: a.exclude.map(w),
        ...opt('chown', wo(a.chown)), ...opt('chmod', wo(a.chmod)), ...opt('checksum', wo(a.checksum)),
        sourceContents: a.sourceContents.map((s) => (s.expand ? { ...s, data: w(s.data) } : s)),
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
