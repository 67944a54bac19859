/**
 * The one error family of tsbuild. Every library error is a TsbuildError with a stable `code`,
 * a location (file:line or a reference) when one is known, and a hint that says what to do.
 * Only cli/main.ts formats errors for humans: `error: <what> (<where>): <hint>`.
 */

export type ErrorCode =
  | 'DOCKERFILE_SYNTAX'
  | 'DOCKERFILE_UNKNOWN_INSTRUCTION'
  | 'DOCKERFILE_BAD_FLAG'
  | 'DOCKERFILE_BAD_ARGUMENT'
  | 'DOCKERFILE_NOT_FOUND'
  | 'DOCKERFILE_ENCODING'
  | 'DOCKERFILE_STAGE'
  | 'DOCKERFILE_CHECK'
  | 'EXPANSION'
  | 'CONTEXT'
  | 'INVALID_DIGEST'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'INVALID_REFERENCE'
  | 'IMAGE_NOT_FOUND'
  | 'BLOB_NOT_FOUND'
  | 'STORE_CORRUPT'
  | 'STORE_LOCKED'
  | 'UNSAFE_LAYER_ENTRY'
  | 'INVALID_LAYER'
  | 'INVALID_MANIFEST'
  | 'UNSUPPORTED'
  | 'REGISTRY'
  | 'AUTH'
  | 'RUNTIME_MISSING'
  | 'RUN_FAILED'
  | 'BUILD'
  | 'ABORTED'
  | 'USAGE'
  | 'CONFLICT'
  | 'IO'
  | 'SIGNATURE';

export type ErrorLocation =
  | { readonly file: string; readonly line: number; readonly endLine?: number }
  | { readonly ref: string };

export interface TsbuildErrorOptions {
  readonly hint?: string;
  readonly location?: ErrorLocation;
  readonly cause?: unknown;
}

const BRAND = Symbol.for('tsbuild.error');

export class TsbuildError extends Error {
  readonly code: ErrorCode;
  hint: string | undefined;
  location: ErrorLocation | undefined;

  constructor(code: ErrorCode, message: string, o: TsbuildErrorOptions = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'TsbuildError';
    this.code = code;
    this.hint = o.hint;
    this.location = o.location;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any TsbuildError, even from a second copy of this package. */
  static is(e: unknown): e is TsbuildError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Returns `err` with `loc` attached when it has no location yet (context is added on the way up). */
export function withLocation<E>(err: E, loc: ErrorLocation): E {
  if (TsbuildError.is(err) && err.location === undefined) err.location = loc;
  return err;
}

/** Renders a location as `file:line` (or `file:line-end`) or as the reference. */
export function formatLocation(loc: ErrorLocation): string {
  if ('ref' in loc) return loc.ref;
  return loc.endLine !== undefined && loc.endLine !== loc.line
    ? `${loc.file}:${loc.line}-${loc.endLine}`
    : `${loc.file}:${loc.line}`;
}

/** One line for humans: `<what> (<where>): <hint>`. */
export function formatError(e: unknown): string {
  if (TsbuildError.is(e)) {
    let s = e.message;
    if (e.location) s += ` (${formatLocation(e.location)})`;
    if (e.hint) s += `: ${e.hint}`;
    return s;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export class InvalidDigestError extends TsbuildError {
  constructor(readonly value: string, o: TsbuildErrorOptions = {}) {
    super('INVALID_DIGEST', `invalid digest ${JSON.stringify(value.slice(0, 100))}`, {
      hint: 'a digest is "sha256:" followed by 64 lowercase hex characters',
      ...o,
    });
    this.name = 'InvalidDigestError';
  }
}

export class DigestMismatchError extends TsbuildError {
  constructor(readonly expected: string, readonly actual: string, readonly size: number, o: TsbuildErrorOptions = {}) {
    super('DIGEST_MISMATCH', `content digest mismatch: expected ${expected}, got ${actual} (${size} bytes)`, {
      hint: 'the source sent bytes that do not match their digest; nothing was stored',
      ...o,
    });
    this.name = 'DigestMismatchError';
  }
}

export class SizeMismatchError extends TsbuildError {
  constructor(readonly expected: number, readonly actual: number, o: TsbuildErrorOptions = {}) {
    super('SIZE_MISMATCH', `content size mismatch: expected ${expected} bytes, got ${actual}${actual > expected ? '+' : ''}`, {
      hint: 'the source sent a different number of bytes than its descriptor declares; nothing was stored',
      ...o,
    });
    this.name = 'SizeMismatchError';
  }
}

/** Longest part of a reference an error message or location repeats (a hostile reference may be megabytes). */
const MAX_REFERENCE_ECHO = 300;

/**
 * A malformed image reference: a registry reference (Docker's grammar), a local tag name, a digest or an image
 * ID prefix. One class for the store and the registry client; each passes the `hint` that fits its grammar.
 */
export class InvalidReferenceError extends TsbuildError {
  /** The reference as given, cut to 300 characters. */
  readonly ref: string;
  /** Why it is invalid, without the reference (for messages that name the flag instead). */
  readonly reason: string;
  constructor(ref: string, why: string, o: TsbuildErrorOptions = {}) {
    const shown = ref.slice(0, MAX_REFERENCE_ECHO);
    super('INVALID_REFERENCE', `invalid reference ${JSON.stringify(shown)}: ${why}`, {
      hint: 'write NAME[:TAG], NAME@sha256:<hex>, sha256:<hex> or an image ID prefix',
      location: { ref: shown },
      ...o,
    });
    this.name = 'InvalidReferenceError';
    this.ref = shown;
    this.reason = why;
  }

  /** The same as `ref` (registry-client's former field name). */
  get reference(): string {
    return this.ref;
  }
}

/**
 * A manifest, index or image config that breaks the OCI/Docker schema or a document limit (size, nesting);
 * one class for every reader (store, registry client, archives), so one document fails the same way anywhere.
 */
export class InvalidManifestError extends TsbuildError {
  constructor(what: string, o: TsbuildErrorOptions = {}) {
    super('INVALID_MANIFEST', what, { hint: 'the image metadata is malformed (or its source is hostile); rebuild or re-pull the image', ...o });
    this.name = 'InvalidManifestError';
  }
}

/** A manifest kind tsbuild does not handle (Docker schema 1, an unknown media type); the hint says what to do. */
export class UnsupportedManifestError extends TsbuildError {
  constructor(readonly mediaType: string, ref: string | undefined, hint: string) {
    super('UNSUPPORTED', `unsupported manifest type ${JSON.stringify(mediaType)}`, { hint, ...(ref ? { location: { ref } } : {}) });
    this.name = 'UnsupportedManifestError';
  }
}

export class AbortedError extends TsbuildError {
  constructor(o: TsbuildErrorOptions = {}) {
    super('ABORTED', 'operation aborted', o);
    this.name = 'AbortedError';
  }
}

/** Throws AbortedError when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
}

/** Exhaustiveness check for discriminated unions. */
export function assertNever(x: never, what = 'value'): never {
  throw new TsbuildError('UNSUPPORTED', `unexpected ${what}: ${JSON.stringify(x)}`);
}
