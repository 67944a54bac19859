/**
 * Progress is data: long operations emit these events to an injected EventSink; renderers live in cli/.
 * `--progress json` prints them verbatim, one per line.
 */

/** Why a step was not served from the cache: the first input that differs from the nearest previous build. */
export type MissReason =
  | { readonly kind: 'no-cache'; readonly detail: string }
  | { readonly kind: 'new-step'; readonly detail: string }
  | { readonly kind: 'parent'; readonly detail: string }
  | { readonly kind: 'instruction'; readonly detail: string; readonly before?: string; readonly now?: string }
  | { readonly kind: 'env'; readonly detail: string; readonly name: string }
  | { readonly kind: 'file'; readonly detail: string; readonly path?: string }
  | { readonly kind: 'base'; readonly detail: string }
  | { readonly kind: 'platform'; readonly detail: string }
  | { readonly kind: 'mount'; readonly detail: string };

export type BuildEvent =
  | { readonly type: 'step.start'; readonly id: string; readonly name: string; readonly stage?: string; readonly index?: number; readonly total?: number }
  | { readonly type: 'step.cached'; readonly id: string }
  | { readonly type: 'step.miss'; readonly id: string; readonly reason: MissReason }
  | { readonly type: 'step.done'; readonly id: string; readonly error?: string; readonly durationMs?: number }
  | { readonly type: 'step.log'; readonly id: string; readonly stream: 'stdout' | 'stderr'; readonly data: string }
  | { readonly type: 'transfer'; readonly id: string; readonly op: 'push' | 'pull' | 'copy' | 'pack' | 'unpack'; readonly current: number; readonly total?: number; readonly done?: boolean }
  | { readonly type: 'warning'; readonly message: string; readonly location?: { readonly file: string; readonly line: number }
      /** For a build-check warning: the rule (BuildKit's name, description and URL); `message` is its detail. */
      readonly rule?: { readonly name: string; readonly description: string; readonly url?: string } }
  | { readonly type: 'info'; readonly message: string; readonly data?: Readonly<Record<string, unknown>> };

export type EventSink = (e: BuildEvent) => void;

/** An EventSink that drops everything. */
export const noopEvents: EventSink = () => undefined;
