/** How a step's failure reads: system errors (out of space above all) as one clear TsbuildError. */
import { TsbuildError } from '../../layer-store/index.js';
import { BuildError } from '../plan/index.js';

/** Turns an out-of-space (or other system) error from a step into one clear TsbuildError; others pass through. */
export function asStepError(e: unknown): unknown {
  if (TsbuildError.is(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BuildError('no space left on the device holding --root', { hint: 'free space (tsbuild prune, tsbuild prune --cache) or point --root at a bigger filesystem; nothing was tagged', cause: e });
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new BuildError(`${(e as Error).message}`, { hint: 'a file system operation of this step failed; check permissions and space under --root', cause: e });
  }
  return e;
}
