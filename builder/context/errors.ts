import { TsbuildError, type TsbuildErrorOptions } from '../../layer-store/core/index.js';

/** A problem with the build context: a missing or excluded COPY source, a bad .dockerignore pattern, an unreadable dir. */
export class ContextError extends TsbuildError {
  constructor(message: string, o: TsbuildErrorOptions = {}) {
    super('CONTEXT', message, o);
    this.name = 'ContextError';
  }
}
