/**
 * parseInstruction: one parse-tree node → one validated, typed instruction, flags parsed per instruction
 * (BuildKit's instructions/parse.go). No variable expansion happens here.
 */
import { chompHeredocContent, type Heredoc, type InstructionNode } from '../parser/index.js';
import { DockerfileError, suggest } from '../errors.js';
import { FlagSet, parseGoDuration, type FlagLocation } from './flags.js';
import { parseMountSpec } from './mount.js';
import {
  INSTRUCTIONS, type ArgDeclaration, type HealthConfig, type Instruction, type InstructionLocation, type KeyValue,
  type RunInstruction, type SourceContent,
} from './types.js';
import { opt } from './opt.js';

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
