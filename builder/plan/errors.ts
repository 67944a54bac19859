import { TsbuildError, type TsbuildErrorOptions } from '../../layer-store/core/index.js';

/** A build step failed (bad COPY source, missing base, failing RUN …); carries the Dockerfile location. */
export class BuildError extends TsbuildError {
  constructor(message: string, o: TsbuildErrorOptions = {}) {
    super('BUILD', message, o);
    this.name = 'BuildError';
  }
}

/**
 * A RUN step exited non-zero: the process it ran (its argv joined by spaces), the exit code and the last lines of
 * its output. The message starts as BuildKit's: `process "/bin/sh -c …" did not complete successfully: exit code: N`.
 */
export class StepFailedError extends TsbuildError {
  constructor(readonly instruction: string, readonly exitCode: number, readonly tail: readonly string[], o: TsbuildErrorOptions = {}) {
    const process = instruction.length > 200 ? instruction.slice(0, 197) + '...' : instruction;
    super('RUN_FAILED', `process ${JSON.stringify(process)} did not complete successfully: exit code: ${exitCode}${tail.length ? ` (last output: ${tail.slice(-3).join(' | ').slice(0, 300)})` : ''}`, {
      hint: 'fix the command; its full output is in the progress log above',
      ...o,
    });
    this.name = 'StepFailedError';
  }
}
