import { TsbuildError, type TsbuildErrorOptions } from '../layer-store/core/index.js';

/** The cache directory could not be read or written (a corrupt record is never an error: it is a miss). */
export class CacheIoError extends TsbuildError {
  constructor(readonly path: string, o: TsbuildErrorOptions = {}) {
    super('IO', `cannot use the build cache at ${path}`, {
      hint: 'check free space and permissions under --root, or run `tsbuild prune --cache`',
      location: { ref: path },
      ...o,
    });
    this.name = 'CacheIoError';
  }
}
