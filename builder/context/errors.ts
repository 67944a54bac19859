import { TsbuildError, type TsbuildErrorOptions } from '../../layer-store/core/index.js';

/** A problem with the build context: a missing or excluded COPY source, a bad .dockerignore pattern, an unreadable dir. */
export class ContextError extends TsbuildError {
  constructor(message: string, o: TsbuildErrorOptions = {}) {
    super('CONTEXT', message, o);
    this.name = 'ContextError';
  }
}

/** A literal COPY/ADD source that does not exist; `path` is its cleaned absolute form (`/dir/file`), as BuildKit names it. */
export class MissingSourceError extends ContextError {
  constructor(message: string, readonly path: string, o: TsbuildErrorOptions = {}) {
    super(message, o);
    this.name = 'MissingSourceError';
  }
}
