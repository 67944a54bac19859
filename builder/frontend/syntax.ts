/**
 * The frontend a Dockerfile asks for. BuildKit reads the `# syntax=IMAGE` directive (parser/directives.go
 * DetectSyntax: after a BOM and a `#!` line, the `#` directives, else `//` ones, else a JSON `{"syntax": …}`),
 * or the `BUILDKIT_SYNTAX` build arg, which wins (`dockerfile.v0`: the built-in frontend, the directive ignored),
 * and runs that image as the frontend (frontend/dockerfile/builder/build.go forwardGateway).
 *
 * tsbuild runs no frontend image: its Dockerfile frontend is built in, with the grammar of BuildKit's
 * docker/dockerfile 1.26 (BuildKit commit 73ed6825c, the one the parser and the conformance suite follow). So a
 * directive naming docker/dockerfile (or docker/dockerfile-upstream, on docker.io) at a version of that grammar
 * is served by the built-in frontend and said so; every other frontend is refused with one error at its line:
 *
 * - accepted tags: `1`, `1.N`, `1.N.P` with N ≤ 26 (1.x is backward compatible, so an older pin builds the
 *   same), each optionally `-rcK`, `-labs` (the labs channel adds only RUN --device, which tsbuild refuses by
 *   name) or `-experimental` (the 1.0–1.3 channel whose RUN --mount became stable); `latest`, `labs`,
 *   `experimental`; and dockerfile-upstream's `master`, `master-labs`; an `@sha256:` after the tag is accepted
 *   and not checked (no image is pulled);
 * - refused: other images, versions newer than 1.26 or outside 1.x, and a digest without a tag (which version it
 *   is cannot be told).
 *
 * Pure: text in, a decision or a TsbuildError out.
 */
import { TsbuildError, type ErrorLocation } from '../../layer-store/core/index.js';

/** The docker/dockerfile version whose grammar the built-in frontend implements. */
export const BUILTIN_DOCKERFILE_VERSION = '1.26';
const BUILTIN_MINOR = 26;
/** The BuildKit commit the front end follows (test/conformance/README.md). */
const BUILTIN_COMMIT = '73ed6825c';

/** The `syntax` directive found by BuildKit's DetectSyntax rules. */
export interface SyntaxDirective {
  /** The image: the value's first word. */
  readonly ref: string;
  /** The whole value (BuildKit's cmdline). */
  readonly cmdline: string;
  /** 1-based line of the directive. */
  readonly line: number;
}

/** The frontend a build uses: always the built-in one (anything else is refused); what named it, when anything did. */
export interface FrontendChoice {
  /** What named the frontend: the Dockerfile's directive, the BUILDKIT_SYNTAX build arg, or nothing. */
  readonly namedBy: 'directive' | 'build-arg' | 'none';
  /** The frontend as written (`docker/dockerfile:1`, `dockerfile.v0`); absent when nothing named one. */
  readonly ref?: string;
  /** `file:line` of the directive, or `--build-arg BUILDKIT_SYNTAX`. */
  readonly where?: string;
  /** One line for progress and `--explain`: which frontend runs and why. */
  readonly description: string;
}

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const KNOWN = new Set(['syntax', 'escape', 'check']);

/** Returns the syntax directive of `input` by BuildKit's DetectSyntax rules, or undefined. */
export function detectSyntax(input: string | Uint8Array): SyntaxDirective | undefined {
  let text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let offset = 0;
  if (text.startsWith('#!')) {
    const nl = text.indexOf('\n');
    text = nl < 0 ? '' : text.slice(nl + 1);
    offset = 1;
  }
  for (const comment of ['#', '//']) {
    const found = directiveIn(text, comment, offset);
    if (found) return found;
  }
  try {
    const json = JSON.parse(text) as unknown;
    const v = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).syntax : undefined;
    if (typeof v === 'string') return { ref: v, cmdline: v, line: offset + 1 };
  } catch {
    // not JSON
  }
  return undefined;
}

/** BuildKit's DirectiveParser over the leading `comment` lines: the syntax directive among them. */
function directiveIn(text: string, comment: string, offset: number): SyntaxDirective | undefined {
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (!raw.startsWith(comment)) return undefined;
    const m = DIRECTIVE.exec(raw.slice(comment.length).replace(/^\s+/, ''));
    const key = m?.[1]?.toLowerCase();
    if (!m || key === undefined || !KNOWN.has(key) || seen.has(key)) return undefined; // a repeat is the parser's error
    seen.add(key);
    if (key === 'syntax') {
      const value = m[2]!;
      return { ref: value.split(' ')[0]!, cmdline: value, line: offset + i + 1 };
    }
  }
  return undefined;
}

/**
 * Returns the frontend for `dockerfile` (named `file` in errors) and the build args: the built-in one, said so
 * when the directive or BUILDKIT_SYNTAX named it; throws TsbuildError (UNSUPPORTED) at the directive's line, or
 * naming the build arg, for a frontend tsbuild cannot be.
 */
export function chooseFrontend(dockerfile: string | Uint8Array, o: { file: string; buildArgs?: Readonly<Record<string, string | undefined>> | undefined }): FrontendChoice {
  const arg = o.buildArgs?.BUILDKIT_SYNTAX;
  if (arg !== undefined) {
    const ref = arg.trim().split(' ')[0]!;
    const where = '--build-arg BUILDKIT_SYNTAX';
    return { namedBy: 'build-arg', ref, where, description: `${describe(ref, { ref: where }, 'build-arg')} (${where})` };
  }
  const d = detectSyntax(dockerfile);
  if (!d) return { namedBy: 'none', description: `${builtIn()}` };
  const where = `${o.file}:${d.line}`;
  return { namedBy: 'directive', ref: d.ref, where, description: `${describe(d.ref, { file: o.file, line: d.line }, 'directive')} (# syntax=${d.cmdline}, ${where})` };
}

function builtIn(): string {
  return `tsbuild's built-in Dockerfile frontend (docker/dockerfile ${BUILTIN_DOCKERFILE_VERSION} grammar, BuildKit ${BUILTIN_COMMIT}); no frontend image is pulled`;
}

/** Returns the description of `ref` served by the built-in frontend, or throws the refusal. */
function describe(ref: string, loc: ErrorLocation, by: 'directive' | 'build-arg'): string {
  const fix = by === 'directive'
    ? 'remove the # syntax line or point it at docker/dockerfile:1 (the built-in frontend); --build-arg BUILDKIT_SYNTAX=dockerfile.v0 ignores it'
    : 'give BUILDKIT_SYNTAX=dockerfile.v0 or docker/dockerfile:1 (the built-in frontend), or drop the build arg';
  if (ref === 'dockerfile.v0') return builtIn();
  const parsed = /^(?:(?:docker\.io|index\.docker\.io)\/)?(docker\/dockerfile(?:-upstream)?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(ref);
  if (!parsed) {
    throw new TsbuildError('UNSUPPORTED', `unsupported frontend ${JSON.stringify(ref)}: tsbuild builds with its built-in Dockerfile frontend and runs no frontend image`, { location: loc, hint: fix });
  }
  const [, repo, tag, digest] = parsed;
  if (tag === undefined && digest !== undefined) {
    throw new TsbuildError('UNSUPPORTED', `frontend ${ref}: which ${repo} version this digest is cannot be told (no image is pulled)`, {
      location: loc, hint: `write the tag before the digest (${repo}:1@${digest}), or ${by === 'directive' ? 'drop the # syntax line' : 'drop the build arg'}`,
    });
  }
  const version = tag ?? 'latest';
  const upstream = repo === 'docker/dockerfile-upstream';
  const channel = /^(latest|labs|experimental)$/.test(version) || (upstream && /^master(-labs|-experimental)?$/.test(version));
  const v = /^1(?:\.(\d+)(?:\.\d+)?)?(?:-rc\d+)?(-labs|-experimental)?$/.exec(version);
  if (!channel && !v) {
    throw new TsbuildError('UNSUPPORTED', `frontend ${ref}: tsbuild's built-in Dockerfile frontend implements ${repo} 1.x up to ${BUILTIN_DOCKERFILE_VERSION}, not ${JSON.stringify(version)}`, { location: loc, hint: fix });
  }
  if (v?.[1] !== undefined && Number(v[1]) > BUILTIN_MINOR) {
    throw new TsbuildError('UNSUPPORTED', `frontend ${ref} is newer than tsbuild's built-in Dockerfile frontend (docker/dockerfile ${BUILTIN_DOCKERFILE_VERSION})`, {
      location: loc, hint: `pin ${repo}:1 or :${BUILTIN_DOCKERFILE_VERSION} or older; --build-arg BUILDKIT_SYNTAX=dockerfile.v0 builds with the built-in frontend anyway`,
    });
  }
  const labs = /labs/.test(version) ? '; labs-only RUN --device is refused' : '';
  return `${ref} served by ${builtIn()}${digest ? ' (the digest is not checked)' : ''}${labs}`;
}
