import { TsbuildError, type TsbuildErrorOptions } from '../core/index.js';

/** A reference that names no image in the store. */
export class ImageNotFoundError extends TsbuildError {
  constructor(readonly ref: string, o: TsbuildErrorOptions = {}) {
    super('IMAGE_NOT_FOUND', `image not found: ${ref}`, {
      hint: 'list local images with `tsbuild images`, or pull/build/load/import it first',
      location: { ref },
      ...o,
    });
    this.name = 'ImageNotFoundError';
  }
}

/** A blob the store was asked for is not present. */
export class BlobNotFoundError extends TsbuildError {
  constructor(readonly digest: string, o: TsbuildErrorOptions = {}) {
    super('BLOB_NOT_FOUND', `blob not found in store: ${digest}`, {
      hint: 'the image is incomplete; pull or load it again (`tsbuild prune` removes broken leftovers)',
      location: { ref: digest },
      ...o,
    });
    this.name = 'BlobNotFoundError';
  }
}

/** Store metadata (index.json, a manifest, a config) cannot be read or parsed. */
export class StoreCorruptError extends TsbuildError {
  constructor(what: string, o: TsbuildErrorOptions = {}) {
    super('STORE_CORRUPT', `store is corrupt: ${what}`, {
      hint: 'restore the file or remove the affected image; blobs are content-addressed and re-fetchable',
      ...o,
    });
    this.name = 'StoreCorruptError';
  }
}

/** The store's index lock could not be taken in time. */
export class StoreLockedError extends TsbuildError {
  constructor(readonly lockPath: string, readonly holder: string, o: TsbuildErrorOptions = {}) {
    super('STORE_LOCKED', `store is locked by ${holder}`, {
      hint: `another tsbuild process is writing this store; wait for it, or remove ${lockPath} if that process is gone`,
      location: { ref: lockPath },
      ...o,
    });
    this.name = 'StoreLockedError';
  }
}

/** A malformed image reference (tag name, digest, id prefix). */
export class InvalidReferenceError extends TsbuildError {
  constructor(readonly ref: string, readonly reason: string, o: TsbuildErrorOptions = {}) {
    super('INVALID_REFERENCE', `invalid reference ${JSON.stringify(ref)}: ${reason}`, {
      hint: 'write NAME[:TAG], NAME@sha256:<hex>, sha256:<hex> or an image ID prefix',
      location: { ref },
      ...o,
    });
    this.name = 'InvalidReferenceError';
  }
}

/** A manifest, index or config document that does not follow the OCI/Docker schema. */
export class InvalidManifestError extends TsbuildError {
  constructor(what: string, o: TsbuildErrorOptions = {}) {
    super('INVALID_MANIFEST', what, { hint: 'the image metadata is malformed; rebuild or re-pull the image', ...o });
    this.name = 'InvalidManifestError';
  }
}

/** Wraps an fs error with the path it concerns. */
export class StoreIoError extends TsbuildError {
  constructor(what: string, path: string, o: TsbuildErrorOptions = {}) {
    super('IO', `${what}: ${path}`, { hint: 'check that --root is writable and the disk is not full', location: { ref: path }, ...o });
    this.name = 'StoreIoError';
  }
}
