/**
 * Per-instruction flag parsing with BuildKit's bflag.go rules: `--name=value` for string flags (a value is
 * required, `--name` alone is an error), `--name`, `--name=true|false` for booleans, repeatable string lists,
 * a repeated non-list flag is an error, `--` ends the flags.
 */
import { DockerfileError, suggest } from '../errors.js';

export type FlagKind = 'bool' | 'string' | 'strings';

/** Every flag BuildKit accepts, by instruction (used for "flag on the wrong instruction" hints). */
export const FLAGS_BY_INSTRUCTION: Readonly<Record<string, readonly string[]>> = {
  from: ['platform'],
  run: ['mount', 'network', 'security'],
  copy: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  add: ['chown', 'chmod', 'link', 'keep-git-dir', 'checksum', 'exclude', 'unpack'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};

export interface FlagLocation {
  readonly file: string;
  readonly line: number;
  readonly endLine: number;
}

export class FlagSet {
  readonly #defs = new Map<string, FlagKind>();
  readonly #values = new Map<string, string>();
  readonly #lists = new Map<string, string[]>();
  readonly #used = new Set<string>();

  constructor(
    private readonly instruction: string,
    private readonly args: readonly string[],
    private readonly loc: FlagLocation,
  ) {}

  bool(name: string): this {
    this.#defs.set(name, 'bool');
    return this;
  }
  string(name: string): this {
    this.#defs.set(name, 'string');
    return this;
  }
  strings(name: string): this {
    this.#defs.set(name, 'strings');
    return this;
  }

  /** Parses the flags; throws DockerfileError DOCKERFILE_BAD_FLAG naming the allowed flags. */
  parse(): this {
    for (const raw of this.args) {
      if (!raw.startsWith('--')) throw this.#err(`flag should start with --: ${raw}`, raw);
      if (raw === '--') break;
      let name = raw.slice(2);
      let value = '';
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const kind = this.#defs.get(name);
      if (kind === undefined) throw this.#unknown(name);
      if (this.#used.has(name) && kind !== 'strings') throw this.#err(`duplicate flag specified: --${name}`, name);
      this.#used.add(name);
      switch (kind) {
        case 'bool': {
          if (eq >= 0 && value === '') throw this.#err(`missing a value on flag: --${name}`, name);
          const lower = value.toLowerCase();
          if (lower === '') this.#values.set(name, 'true');
          else if (lower === 'true' || lower === 'false') this.#values.set(name, lower);
          else throw this.#err(`expecting boolean value for flag --${name}, not: ${value}`, name);
          break;
        }
        case 'string':
          if (eq < 0) throw this.#err(`missing a value on flag: --${name}`, name);
          this.#values.set(name, value);
          break;
        case 'strings': {
          if (eq < 0) throw this.#err(`missing a value on flag: --${name}`, name);
          const l = this.#lists.get(name) ?? [];
          l.push(value);
          this.#lists.set(name, l);
          break;
        }
      }
    }
    return this;
  }

  used(name: string): boolean {
    return this.#used.has(name);
  }
  usedNames(): string[] {
    return [...this.#used];
  }
  getString(name: string): string | undefined {
    return this.#values.get(name);
  }
  getBool(name: string): boolean {
    return this.#values.get(name) === 'true';
  }
  getStrings(name: string): string[] {
    return [...(this.#lists.get(name) ?? [])];
  }

  #allowed(): string {
    const names = [...this.#defs.keys()];
    return names.length === 0
      ? `${this.instruction.toUpperCase()} accepts no flags`
      : `${this.instruction.toUpperCase()} accepts ${names.map((n) => `--${n}`).join(', ')}`;
  }

  #unknown(name: string): DockerfileError {
    const close = suggest(name, [...this.#defs.keys()]);
    const elsewhere = Object.entries(FLAGS_BY_INSTRUCTION)
      .filter(([ins, fl]) => ins !== this.instruction && fl.includes(name))
      .map(([ins]) => ins.toUpperCase());
    let hint = this.#allowed();
    if (close === undefined && elsewhere.length > 0) hint = `--${name} is a flag of ${elsewhere.join(', ')}, not ${this.instruction.toUpperCase()}; ${hint}`;
    // BuildKit's words (bflag.go, then util/suggest): `unknown flag: --mont (did you mean mount?)`.
    return new DockerfileError('DOCKERFILE_BAD_FLAG', `unknown flag: --${name}${close !== undefined ? ` (did you mean ${close}?)` : ''}`, {
      hint,
      location: this.loc,
    });
  }

  #err(message: string, _name: string): DockerfileError {
    return new DockerfileError('DOCKERFILE_BAD_FLAG', `${this.instruction.toUpperCase()}: ${message}`, {
      hint: this.#allowed(),
      location: this.loc,
    });
  }
}

/** Go's time.ParseDuration, returning nanoseconds. Returns undefined when `s` is not a valid duration. */
export function parseGoDuration(s: string): number | undefined {
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    // \u00b5 and \u03bc (micro sign, Greek mu) as escapes: a bundle chunk with a character above U+00FF outside its
    // comments is held by V8 as a two-byte string (scripts/cjs-chunks.mjs).
    const m = /^([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/u.exec(rest);
    if (m === null || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * Math.round(total);
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}
