import { showName, TsbuildError, type TsbuildErrorOptions } from '../layer-store/core/index.js';

/** The cache directory could not be read or written (a corrupt record is never an error: it is a miss). */
export class CacheIoError extends TsbuildError {
  constructor(readonly path: string, o: TsbuildErrorOptions = {}) {
    super('IO', `cannot use the build cache at ${showName(path)}`, {
      hint: 'check free space and permissions under --root, or run `tsbuild prune --cache`',
      location: { ref: path },
      ...o,
    });
    this.name = 'CacheIoError';
  }
}

/** Why a remote cache could not be imported, for the builder's warning. */
export type CacheImportReason = 'unreachable' | 'denied' | 'not-found' | 'invalid';

function importReason(cause: unknown): CacheImportReason {
  if (!TsbuildError.is(cause)) return 'unreachable';
  if (cause.code === 'AUTH') return 'denied';
  if (cause.code === 'IMAGE_NOT_FOUND' || cause.code === 'BLOB_NOT_FOUND') return 'not-found';
  const status = (cause as { status?: unknown }).status;
  if (status === 401 || status === 403) return 'denied';
  if (status === 404) return 'not-found';
  if (cause.code === 'INVALID_MANIFEST' || cause.code === 'UNSUPPORTED' || cause.code === 'DIGEST_MISMATCH' || cause.code === 'SIZE_MISMATCH') return 'invalid';
  return 'unreachable';
}

/**
 * A `--cache-from` source could not be read (registry down, access denied, no such tag, not a tsbuild cache).
 * Never fatal for a build: the builder downgrades it to a warning and builds cold. Code REGISTRY; `reason` says which.
 */
export class CacheImportError extends TsbuildError {
  readonly reason: CacheImportReason;
  constructor(readonly ref: string, detail: string, o: TsbuildErrorOptions & { reason?: CacheImportReason } = {}) {
    const reason = o.reason ?? importReason(o.cause);
    super('REGISTRY', `cannot import the build cache from ${ref}: ${detail}`, {
      hint:
        reason === 'denied'
          ? 'log in to the registry (tsbuild login) or check the token\'s pull scope; the build continues without the remote cache'
          : reason === 'not-found'
            ? 'no cache was exported there yet (run a build with --cache-to first); the build continues without the remote cache'
            : reason === 'invalid'
              ? 'the reference does not hold a tsbuild cache artifact; point --cache-from at what --cache-to wrote'
              : 'check that the registry is reachable; the build continues without the remote cache',
      location: { ref },
      ...o,
    });
    this.name = 'CacheImportError';
    this.reason = reason;
  }
}

/** A cache layer or cache-mount blob could not be fetched or did not verify. Treat the step as a miss. */
export class CacheFetchError extends TsbuildError {
  constructor(readonly ref: string, readonly digest: string, o: TsbuildErrorOptions = {}) {
    super('REGISTRY', `cannot fetch cached layer ${digest} from ${ref}`, {
      hint: 'the step is rebuilt instead (a miss); if this repeats, re-export the cache with --cache-to',
      location: { ref },
      ...o,
    });
    this.name = 'CacheFetchError';
  }
}

/** --cache-to failed: a blob or the manifest could not be written. */
export class CacheExportError extends TsbuildError {
  constructor(readonly ref: string, detail: string, o: TsbuildErrorOptions = {}) {
    super('REGISTRY', `cannot export the build cache to ${ref}: ${detail}`, {
      hint: 'check that the destination is reachable and writable (push scope, disk space); the image itself was built',
      location: { ref },
      ...o,
    });
    this.name = 'CacheExportError';
  }
}
