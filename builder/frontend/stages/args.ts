/** Args: the predefined platform and proxy args, and the global scope the meta ARGs make. */
import type { NamedContextUse } from './named.js';
import { formatPlatform, hostPlatform, type Platform } from '../../../layer-store/core/index.js';
import type { EscapeToken } from '../parser/index.js';
import { DockerfileError } from '../errors.js';
import type { ArgInstruction, InstructionLocation } from '../instructions/index.js';
import { expandWord, type ShellEnv } from '../shell/index.js';


/** Platform args BuildKit defines in the global scope (usable in FROM; redeclare with ARG to use in a stage). */
export const PLATFORM_ARGS = ['TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT'] as const;

/** Proxy args: accepted as --build-arg without an ARG, passed to RUN, never written to history or cache keys. */
export const PROXY_ARGS: readonly string[] = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY']
  .flatMap((n) => [n, n.toLowerCase()]);

/** True for a build arg that needs no ARG declaration (platform, proxy, BUILDKIT_*). */
export function isPredefinedArg(name: string): boolean {
  return (PLATFORM_ARGS as readonly string[]).includes(name) || PROXY_ARGS.includes(name) || name.startsWith('BUILDKIT_');
}

export interface PlatformOptions {
  /** The platform being built for (default: the build platform). */
  readonly target?: Platform;
  /** The platform the build runs on (default: this machine). */
  readonly build?: Platform;
}

/** The values of the predefined platform args. */
export function platformArgs(p: PlatformOptions = {}): Map<string, string> {
  const build = p.build ?? hostPlatform();
  const target = p.target ?? build;
  return new Map([
    ['TARGETPLATFORM', formatPlatform(target)], ['TARGETOS', target.os], ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', formatPlatform(build)], ['BUILDOS', build.os], ['BUILDARCH', build.architecture],
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
 * The global scope: platform args (overridable by build args), then each meta ARG in order, its default
 * expanded with what came before and replaced by a build arg when one is given. A meta ARG with neither a
 * default nor a build arg is declared but unset.
 */
export function resolveMetaArgs(metaArgs: readonly ArgInstruction[], o: ResolveOptions): Map<string, string> {
  const scope = platformArgs(o.platform);
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
