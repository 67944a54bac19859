import type { EventSink } from '../../layer-store/core/index.js';

/** A progress display of library events. */
export interface Renderer {
  readonly sink: EventSink;
  /** Flushes and stops any live display. Safe to call more than once: what it prints is printed once. */
  close(): void;
}
