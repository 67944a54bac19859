import type { Logger } from '../layer-store/core/index.js';

/**
 * A LIFO stack of cleanup steps (BuildKit's MultiCloser). `close()` runs every step, newest first, even when
 * some fail, and returns the errors of the failed ones; it runs at most once.
 */
export class CleanupStack {
  readonly #steps: { what: string; fn: () => Promise<void> | void }[] = [];
  #closed = false;

  push(what: string, fn: () => Promise<void> | void): void {
    this.#steps.push({ what, fn });
  }

  async close(logger: Logger): Promise<unknown[]> {
    if (this.#closed) return [];
    this.#closed = true;
    const errors: unknown[] = [];
    for (let s = this.#steps.pop(); s; s = this.#steps.pop()) {
      logger.debug(`cleanup: ${s.what}`);
      try {
        await s.fn();
      } catch (e) {
        logger.warn(`cleanup failed: ${s.what}`, { error: e instanceof Error ? e.message : String(e) });
        errors.push(e);
      }
    }
    return errors;
  }
}
