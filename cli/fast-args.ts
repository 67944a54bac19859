/**
 * A fast path around yargs for plain command lines (cli/README.md, Start-up). yargs costs ~a quarter of a cached
 * build's CPU time: its instance, the ~80 build flags registered, yargs-parser run three times over them and the
 * strict validation. For a command line made only of known flags in their plain forms (`--name VALUE`,
 * `--name=VALUE`, `-x VALUE`, a boolean `--name`) and the command's positionals (each required one, then at most its optional ones), this builds
 * the same arguments object yargs would (every flag under its name, its aliases and their camelCase forms, the
 * defaults, the coercions, `_` and `$0`) and the caller runs the command's handler with it. Anything else
 * (help, version, unknown or repeated flags, `--`, short-flag groups, values that look like flags or numbers,
 * negations, choices not allowed, a command whose builder declares more than options) returns undefined, and
 * yargs parses as before, with its errors and messages.
 *
 * The flags are read from the command's own yargs builder, run over a recorder: one definition for both paths.
 * test/cli/fast-args-parse-as-yargs.test.ts runs a table of command lines through both and compares.
 */
import type { CommandModule, Options, PositionalOptions } from 'yargs';
import type { GlobalArgs } from './context.js';
import type { CommandEntry } from './commands/index.js';

/**
 * What main.ts passes in (commands/index.ts and global-options.ts): were they imported here, esbuild would move
 * them out of main.cjs into chunks of their own, two more files for every start (`--version` included).
 */
export interface KnownCommands {
  readonly commands: readonly CommandEntry[];
  readonly namesOf: (c: CommandEntry) => string[];
  readonly isDefault: (c: CommandEntry) => boolean;
  readonly globalOptions: () => [string, Options][];
}

type AnyCommand = CommandModule<never, never>;

/** One option as its builder declares it, with every key yargs sets for it. */
interface Flag {
  readonly type: 'string' | 'boolean' | 'number';
  /** Its name and aliases: `--name`, `-x` on the command line. */
  readonly names: readonly string[];
  /** Its name, aliases and their camelCase forms (yargs-parser's camel-case expansion). */
  readonly keys: readonly string[];
  readonly choices: readonly unknown[] | undefined;
  /** Whether `default` is given (even as undefined: yargs then sets the key to undefined). */
  readonly hasDefault: boolean;
  readonly default: unknown;
  readonly coerce: ((v: unknown) => unknown) | undefined;
  /** A global option (known to yargs' first parse, before the command's builder ran). */
  readonly global: boolean;
}

interface Positional {
  readonly keys: readonly string[];
  /** `<name>`: the command line must give it (else yargs' "Not enough non-option arguments"). */
  readonly required: boolean;
  readonly coerce: ((v: unknown) => unknown) | undefined;
}

/** What the fast path understands of a command: its flags by every name (`--x`, `-x`) and its positionals, in order. */
interface Spec {
  readonly flags: Map<string, Flag>;
  readonly positionals: readonly Positional[];
}

/** The option keys handled here; a builder that uses another (demandOption, conflicts, nargs, array…) is left to yargs. */
const OPTION_KEYS = new Set(['type', 'default', 'alias', 'coerce', 'describe', 'defaultDescription', 'choices', 'global']);
const POSITIONAL_KEYS = new Set(['type', 'describe', 'coerce', 'demandOption']);
/** A name whose camelCase form is plain (yargs-parser's rules for `_` and capitals are not repeated here). */
const PLAIN_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/**
 * A positional yargs-parser could read as a number (its looksLikeNumber, widened: leading zeros, signs, spaces
 * around), left to yargs; a reference such as `127.0.0.1:5000/app:1` is not one.
 */
const NUMBER_LIKE = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?\s*$|^\s*[-+]?0x/i;

const camel = (s: string): string => s.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** Returns the flag of yargs options `o`, or undefined when they hold anything not handled here. */
function flagOf(name: string, o: Options): Flag | undefined {
  if (!PLAIN_NAME.test(name) || Object.keys(o).some((k) => !OPTION_KEYS.has(k))) return undefined;
  const type = o.type ?? (o.choices !== undefined ? 'string' : undefined);
  if (type !== 'string' && type !== 'boolean' && type !== 'number') return undefined;
  const aliases = o.alias === undefined ? [] : [o.alias].flat();
  if (!aliases.every((a) => PLAIN_NAME.test(a))) return undefined;
  const names = [name, ...aliases];
  const keys = [...names, ...names.filter((n) => n.includes('-')).map(camel)];
  return { type, names, keys, choices: o.choices as readonly unknown[] | undefined, hasDefault: 'default' in o, default: o.default, coerce: o.coerce as Flag['coerce'], global: o.global === true };
}

/** Adds `flag` under each of its command-line spellings; false when one is taken already. */
function addFlag(flags: Map<string, Flag>, flag: Flag): boolean {
  for (const n of flag.names) {
    const spelling = n.length === 1 ? `-${n}` : `--${n}`;
    if (flags.has(spelling)) return false;
    flags.set(spelling, flag);
  }
  return true;
}

/**
 * Returns what the fast path knows of command `entry` (module `mod`): the global options, its builder's options
 * and the positionals of its command strings; undefined when the builder or a command string uses anything else.
 */
function specOf(k: KnownCommands, entry: CommandEntry, mod: AnyCommand): Spec | undefined {
  const flags = new Map<string, Flag>();
  for (const [name, o] of k.globalOptions()) {
    const f = flagOf(name, o);
    if (!f || !addFlag(flags, f)) return undefined;
  }
  // The positionals of every command string must be the same list: required ones, then optional ones
  // (`pull <ref>`, `push <name> [dest]`, `build [context]` and `$0 [context]`); none variadic.
  const lists = [entry.command].flat().map((s) => s.split(' ').slice(1).filter(Boolean));
  const parsed = lists[0]!.map((p) => /^(?:<([a-z][a-z0-9-]*)>|\[([a-z][a-z0-9-]*)\])$/.exec(p));
  if (parsed.some((m) => m === null) || lists.some((l) => l.join(' ') !== lists[0]!.join(' '))) return undefined;
  const required = parsed.map((m) => m![1] !== undefined);
  if (required.some((r, i) => r && i > 0 && !required[i - 1])) return undefined;
  const positionals = new Map<string, Positional>(parsed.map((m, i) => {
    const n = m![1] ?? m![2]!;
    return [n, { keys: n.includes('-') ? [n, camel(n)] : [n], required: required[i]!, coerce: undefined }];
  }));
  let ok = true;
  const recorder: object = new Proxy({}, {
    get: (_t, prop) => {
      if (prop === 'option') {
        return (name: unknown, o: unknown) => {
          const f = typeof name === 'string' && typeof o === 'object' && o !== null ? flagOf(name, o as Options) : undefined;
          if (!f || !addFlag(flags, f)) ok = false;
          return recorder;
        };
      }
      if (prop === 'positional') {
        return (name: unknown, o: PositionalOptions) => {
          const p = typeof name === 'string' ? positionals.get(name) : undefined;
          // demandOption only where the command string makes it required anyway (`<ref>`).
          if (!p || Object.keys(o).some((k) => !POSITIONAL_KEYS.has(k)) || (o.type !== undefined && o.type !== 'string') || (o.demandOption !== undefined && o.demandOption !== p.required)) ok = false;
          else positionals.set(name as string, { keys: p.keys, required: p.required, coerce: o.coerce as Positional['coerce'] });
          return recorder;
        };
      }
      if (prop === 'example') return () => recorder;
      return () => { ok = false; return recorder; }; // anything else (check, conflicts, middleware…): yargs decides
    },
  });
  if (typeof mod.builder !== 'function') return undefined;
  try {
    (mod.builder as (y: unknown) => unknown)(recorder);
  } catch {
    return undefined;
  }
  return ok ? { flags, positionals: [...positionals.values()] } : undefined;
}

/**
 * The command the command line names, as main.ts's commandsFor picks it: the first word after the global
 * options, else the default command; undefined when a word elsewhere names another command (then yargs sees all).
 */
function entryFor(k: KnownCommands, args: readonly string[]): CommandEntry | undefined {
  const { commands, namesOf, isDefault } = k;
  let i = 0;
  while (i < args.length && (args[i] === '--root' || args[i] === '--progress' || args[i] === '--debug' || /^--(root|progress)=/.test(args[i]!))) {
    i += args[i] === '--debug' || args[i]!.includes('=') ? 1 : 2;
  }
  const byName = new Map(commands.flatMap((c) => namesOf(c).map((n) => [n, c] as const)));
  const word = args[i];
  const named = word === undefined || word.startsWith('-') ? undefined : byName.get(word);
  for (const [k, a] of args.entries()) {
    const c = byName.get(a);
    if (c && k !== i && c !== named && !isDefault(c)) return undefined;
  }
  return named ?? commands.find(isDefault);
}

/** A command ready to run: its module and the arguments object yargs would have passed to its handler. */
export interface FastCommand {
  readonly module: AnyCommand;
  readonly argv: GlobalArgs & Record<string, unknown>;
}

/**
 * Returns the command of `args` and its arguments object when the fast path covers the command line exactly
 * (`signal` as main.ts's middleware sets it), else undefined: then yargs parses it. Loads the command's module.
 */
export async function fastCommand(k: KnownCommands, args: readonly string[], signal?: AbortSignal): Promise<FastCommand | undefined> {
  const entry = entryFor(k, args);
  if (!entry) return undefined;
  const mod = await entry.load();
  const spec = specOf(k, entry, mod);
  if (!spec) return undefined;
  const given = new Map<Flag, unknown[]>();
  const words: string[] = [];
  let booleanBeforeWord = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) {
      words.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = spec.flags.get(eq < 0 ? a : a.slice(0, eq));
    if (!flag) return undefined; // `-`, `--`, --help, --version, unknown flags, short groups (`-qt`), `-tNAME`
    let value: unknown;
    if (flag.type === 'boolean') {
      // `--x=false` and `--x true` are yargs-parser's to read.
      if (eq >= 0 || /^(true|false)$/.test(args[i + 1] ?? '')) return undefined;
      value = true;
      booleanBeforeWord ||= words.length === 0 && !flag.global;
    } else {
      const v = eq >= 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '' || v.startsWith('-')) return undefined;
      if (flag.type === 'number') {
        if (!/^\d+(\.\d+)?$/.test(v)) return undefined;
        value = Number(v);
      } else {
        value = v;
      }
      if (flag.choices && !flag.choices.includes(value)) return undefined;
    }
    const seen = given.get(flag);
    // Repeating a list flag (one with a coercion: options.ts listOption) collects; repeating another is yargs'.
    if (seen && !flag.coerce) return undefined;
    given.set(flag, [...(seen ?? []), value]);
  }
  const names = k.namesOf(entry);
  const command = words.length > 0 && names.includes(words[0]!) ? [words.shift()!] : [];
  if (command.length === 0 && !k.isDefault(entry)) return undefined;
  // yargs' first parse knows only the global flags, and reads the word after an unknown one as its value
  // (`--no-cache build .`: a usage error there): a command's boolean flag before the command word is yargs'.
  if (command.length > 0 && booleanBeforeWord) return undefined;
  if (words.length > spec.positionals.length || words.some((w) => NUMBER_LIKE.test(w))) return undefined;
  if (spec.positionals.some((p, k) => p.required && k >= words.length)) return undefined; // yargs' usage error
  const argv: Record<string, unknown> = { _: command };
  for (const flag of new Set(spec.flags.values())) {
    const values = given.get(flag);
    if (!values && !flag.hasDefault) continue;
    let v = values ? (values.length === 1 ? values[0] : values) : flag.default;
    if (flag.coerce) v = flag.coerce(v);
    for (const k of flag.keys) argv[k] = v;
  }
  argv['$0'] = 'tsbuild';
  words.forEach((w, k) => {
    const p = spec.positionals[k]!;
    const v = p.coerce ? p.coerce(w) : w;
    for (const key of p.keys) argv[key] = v;
  });
  argv['signal'] = signal;
  return { module: mod, argv: argv as FastCommand['argv'] };
}

/** The command-line spellings of the flags the fast path knows for `args`' command, with their types (for tests). */
export async function fastFlags(k: KnownCommands, args: readonly string[]): Promise<{ spelling: string; type: Flag['type']; choices: readonly unknown[] | undefined }[] | undefined> {
  const entry = entryFor(k, args);
  const spec = entry && specOf(k, entry, await entry.load());
  return spec && [...spec.flags].map(([spelling, f]) => ({ spelling, type: f.type, choices: f.choices }));
}
