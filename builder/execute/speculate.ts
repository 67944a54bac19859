/**
 * A RUN's big files compressed while it runs (layer-store's SegmentSpeculator): the step's upper dir is walked
 * every 200 ms while the container writes it, and the gzip segments of files over 512 KiB are made on the side,
 * so that commitUpper's pack copies them (each verified against the final bytes) instead of compressing them
 * after the step. W3 (a RUN writing 512 MiB): most of the layer's segments are compressed before the RUN ends.
 *
 * Only for gzip layers of an overlay upper dir (chroot isolation fills the upper dir after the step: nothing to
 * watch while it runs). The scratch file lies in the step's scratch dir; commitUpper takes it over and removes it
 * after the pack, and the step's cleanup removes it when the pack never comes (a failed RUN).
 */
import { join } from 'node:path';
import { DEFAULT_GZIP_LEVEL, SegmentSpeculator } from '../../layer-store/index.js';
import type { BuildCtx } from './context.js';
import type { Scratch } from './workspace.js';

/** Runs `fn` (the container writing `s.upper`) with speculation on `s.upper`; sets `s.speculated` when it succeeds. */
export async function withSpeculation<T>(ctx: BuildCtx, s: Scratch, cleanups: (() => Promise<void>)[], fn: () => Promise<T>): Promise<T> {
  if ((ctx.o.compression ?? 'gzip') !== 'gzip') return fn();
  const spec = SegmentSpeculator.start(s.upper, {
    file: join(s.dir, 'speculative-segments'),
    level: DEFAULT_GZIP_LEVEL,
    ...(ctx.o.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.o.sourceDateEpoch } : {}),
  });
  let finished = false;
  // Until commitUpper takes s.speculated over (a RUN that failed, or threw, never gets there).
  cleanups.push(async () => {
    if (!finished || s.speculated) await spec.close();
  });
  const r = await fn();
  s.speculated = await spec.finish();
  finished = true;
  if (s.speculated) ctx.log.debug('speculative segments', { dir: s.upper, segments: s.speculated.segments });
  return r;
}
