import { TsbuildError, type ErrorCode } from '../layer-store/core/index.js';

/** A failure of the benchmark harness itself (a peer that will not start, a bad flag), not of a measured run. */
export class BenchError extends TsbuildError {
  constructor(code: ErrorCode, message: string, hint: string, cause?: unknown) {
    super(code, message, cause === undefined ? { hint } : { hint, cause });
    this.name = 'BenchError';
  }
}
