/**
 * The directories a build reads files from: its context, and each directory named context (`--build-context
 * NAME=DIR`, or a git checkout or tarball fetched for the build). Each comes with its own .dockerignore, read
 * once per build, as BuildKit's local named contexts do.
 */
import { loadDockerignore } from '../context/index.js';
import { namedContextFor } from '../frontend/index.js';
import type { BuildCtx, SourceDir } from './context.js';

export type { SourceDir } from './context.js';

/**
 * The directory `from` (a `COPY --from` / `RUN --mount from=` value) reads: the build context when `from` is
 * undefined, a directory named context when it names one, else undefined (a stage or an image).
 */
export function sourceDir(ctx: BuildCtx, from: string | undefined): Promise<SourceDir> | undefined {
  if (from === undefined) return Promise.resolve({ dir: ctx.contextDir, ignore: ctx.ignore });
  const use = namedContextFor(ctx.o.namedContexts, from);
  if (use?.kind !== 'dir') return undefined;
  let p = ctx.namedDirs.get(use.path);
  if (!p) {
    p = loadDockerignore(use.path).then((ignore) => ({ dir: use.path, ignore }));
    ctx.namedDirs.set(use.path, p);
  }
  return p;
}
