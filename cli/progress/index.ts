/**
 * The CLI's progress display of library events: a live view on a terminal (buildx's), plain lines (BuildKit's
 * `--progress plain`), JSON events with timestamps (one per line, on stdout), or nothing.
 */
import type { BuildEvent } from '../../layer-store/core/index.js';
import type { ProgressMode } from '../context.js';
import { plainRenderer } from './plain.js';
import { rawJsonRenderer } from './rawjson.js';
import { ttyRenderer } from './tty.js';
import type { Renderer } from './renderer.js';

export type { Renderer } from './renderer.js';

/** Picks `tty` on a terminal and `plain` otherwise, as BuildKit's progressui does for `auto`. */
export function resolveMode(mode: ProgressMode, stream?: NodeJS.WriteStream): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  // Read only for `auto`: process.stderr is made when first read (cli/context.ts whenMade).
  stream ??= process.stderr;
  // A terminal that reports no size (some CI pseudo-terminals) cannot host a live view.
  return stream.isTTY && (stream.columns ?? 0) > 0 ? 'tty' : 'plain';
}

/** One JSON line per event: `time` (RFC 3339 with milliseconds) first, then the event's own fields. */
export function jsonLine(e: BuildEvent | { readonly type: string; readonly [k: string]: unknown }, now = new Date()): string {
  return JSON.stringify({ time: now.toISOString(), ...e }) + '\n';
}

/**
 * Returns a renderer writing to stderr (json goes to stdout, one event per line).
 */
export function createRenderer(mode: ProgressMode): Renderer {
  const r = rendererFor(resolveMode(mode));
  return { sink: (e) => r.sink(e), close: () => r.close() };
}

function rendererFor(m: Exclude<ProgressMode, 'auto'>): Renderer {
  switch (m) {
    case 'quiet':
    case 'none':
      return { sink: () => undefined, close: () => undefined };
    case 'rawjson':
      return rawJsonRenderer(process.stderr);
    case 'json':
      return { sink: (e) => process.stdout.write(jsonLine(e)), close: () => undefined };
    case 'plain':
      return plainRenderer(process.stderr);
    case 'tty':
      return ttyRenderer();
  }
}
