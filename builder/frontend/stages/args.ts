/** Args: the predefined platform and proxy args, and the global scope the meta ARGs make. */
import type { NamedContextUse } from './named.js';
import { formatPlatform, hostPlatform, type Platform } from '../../../layer-store/core/index.js';
import type { EscapeToken } from '../parser/index.js';
import { DockerfileError } from '../errors.js';
import type { ArgInstruction, InstructionLocation } from '../instructions/index.js';
import { expandWord, type ShellEnv } from '../shell/index.js';


/** Platform args BuildKit defines in the global scope (usable in FROM; redeclare with ARG to use in a stage). */
export const PLATFORM_ARGS = ['TARGETPLATFORM', 'TARGETOS', 'TARGETOSVERSION', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDOSVERSION', 'BUILDARCH', 'BUILDVARIANT'] as const;

/** The target stage's name (`--target` as given, else the last stage's name, else `default`), a global arg like the platform args. */
export const TARGET_STAGE_ARG = 'TARGETSTAGE';

/** Proxy args: accepted as --build-arg without an ARG, passed to RUN, never written to history or cache keys. */
export const PROXY_ARGS: readonly string[] = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY']
  .flatMap((n) => [n, n.toLowerCase()]);

/** True for a build arg that needs no ARG declaration (platform, proxy in any letter case, TARGETSTAGE, SOURCE_DATE_EPOCH, BUILDKIT_*). */
export function isPredefinedArg(name: string): boolean {
  return (PLATFORM_ARGS as readonly string[]).includes(name) || PROXY_ARGS.includes(name.toUpperCase()) ||
    name === TARGET_STAGE_ARG || name === 'SOURCE_DATE_EPOCH' || name.startsWith('BUILDKIT_');
}

/**
 * The proxy variables a RUN gets from the build args, as BuildKit's ProxyEnv: a build arg whose name is a proxy
 * name in any letter case (`http_proxy`, `Http_Proxy`) sets both spellings (`HTTP_PROXY` and `http_proxy`); an
 * empty value sets none; of several spellings the last in sorted name order wins. Sorted by name.
 */
export function proxyEnv(buildArgs: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const byName = new Map<string, string>();
  for (const k of Object.keys(buildArgs).sort()) {
    const v = buildArgs[k];
    const upper = k.toUpperCase();
    if (v !== undefined && PROXY_ARGS.includes(upper)) byName.set(upper, v);
  }
  const out = new Map<string, string>();
  for (const [n, v] of [...byName].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (v === '') continue;
    out.set(n, v);
    out.set(n.toLowerCase(), v);
  }
  return out;
}

export interface PlatformOptions {
  /** The platform being built for (default: the build platform). */
  readonly target?: Platform;
  /** The platform the build runs on (default: this machine). */
  readonly build?: Platform;
}

/** The values of the predefined platform args (the OS versions are empty unless the platform has one). */
export function platformArgs(p: PlatformOptions = {}): Map<string, string> {
  const build = p.build ?? hostPlatform();
  const target = p.target ?? build;
  return new Map([
    ['TARGETPLATFORM', formatPlatform(target)], ['TARGETOS', target.os], ['TARGETOSVERSION', target['os.version'] ?? ''], ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', formatPlatform(build)], ['BUILDOS', build.os], ['BUILDOSVERSION', build['os.version'] ?? ''], ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

export interface ResolveOptions {
  /** The stage to build (name, case-insensitive); default: the last stage. */
  readonly target?: string;
  /** `--build-arg` values; `undefined` means "not given" (the CLI resolves `--build-arg NAME` from its env). */
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly platform?: PlatformOptions;
  readonly escapeToken?: EscapeToken;
  /** `--build-context` names (contextKey form) and what each stands for. */
  readonly namedContexts?: ReadonlyMap<string, NamedContextUse>;
}

/**
 * The global scope: platform args and TARGETSTAGE (`targetStage`, else `default`), each overridable by a build
 * arg, then each meta ARG in order, its default
 * expanded with what came before and replaced by a build arg when one is given. A meta ARG with neither a
 * default nor a build arg is declared but unset.
 */
export function resolveMetaArgs(metaArgs: readonly ArgInstruction[], o: ResolveOptions & { readonly targetStage?: string }): Map<string, string> {
  const scope = platformArgs(o.platform);
  scope.set(TARGET_STAGE_ARG, o.targetStage || 'default');
  for (const k of [...scope.keys()]) {
    const b = Object.hasOwn(o.buildArgs, k) ? o.buildArgs[k] : undefined;
    if (b !== undefined) scope.set(k, b);
  }
  for (const ins of metaArgs) {
    for (const a of ins.args) {
      const b = Object.hasOwn(o.buildArgs, a.key) ? o.buildArgs[a.key] : undefined;
      if (b !== undefined) scope.set(a.key, b);
      else if (a.value !== undefined) scope.set(a.key, expandAt(a.value, scope, ins.location, o.escapeToken).value);
      else scope.delete(a.key);
    }
  }
  return scope;
}

/** expandWord with the instruction's location on an error. */
export function expandAt(word: string, env: ShellEnv, loc: InstructionLocation, escapeToken?: EscapeToken) {
  try {
    return expandWord(word, env, escapeToken !== undefined ? { escapeToken } : {});
  } catch (e) {
    if (e instanceof DockerfileError && e.location === undefined) e.location = loc;
    throw e;
  }
}
