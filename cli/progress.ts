import type { BuildEvent, EventSink } from '../layer-store/core/index.js';
import type { ProgressMode } from './context.js';

export interface Renderer {
  readonly sink: EventSink;
  /** Flushes and stops any live display. */
  close(): void;
}

/** Picks `tty` on a terminal and `plain` otherwise, as BuildKit's progressui does for `auto`. */
export function resolveMode(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  // A terminal that reports no size (some CI pseudo-terminals) cannot host a live view.
  return stream.isTTY && (stream.columns ?? 0) > 0 ? 'tty' : 'plain';
}

/** Returns a renderer writing to stderr (json goes to stdout, one event per line). */
export function createRenderer(mode: ProgressMode): Renderer {
  const m = resolveMode(mode);
  switch (m) {
    case 'quiet':
      return { sink: () => undefined, close: () => undefined };
    case 'json':
      return { sink: (e) => process.stdout.write(JSON.stringify(e) + '\n'), close: () => undefined };
    case 'plain':
      return plainRenderer(process.stderr);
    case 'tty':
      return ttyRenderer();
  }
}

interface StepState { n: number; name: string; status: 'running' | 'cached' | 'done' | 'error'; started: number; ended?: number; tail: string[]; reason?: string }

/** BuildKit-style plain lines: `#N [stage i/n] INSTRUCTION`, then the step's output prefixed by `#N`. */
function plainRenderer(out: NodeJS.WritableStream): Renderer {
  const steps = new Map<string, StepState>();
  let n = 0;
  const sink = (e: BuildEvent): void => {
    switch (e.type) {
      case 'step.start': {
        const s: StepState = { n: ++n, name: e.name, status: 'running', started: Date.now(), tail: [] };
        steps.set(e.id, s);
        out.write(`#${s.n} ${e.name}\n`);
        break;
      }
      case 'step.cached': {
        const s = steps.get(e.id);
        if (s) { s.status = 'cached'; out.write(`#${s.n} CACHED\n`); }
        break;
      }
      case 'step.miss': {
        const s = steps.get(e.id);
        if (s) out.write(`#${s.n} running: ${e.reason.detail}\n`);
        break;
      }
      case 'step.log': {
        const s = steps.get(e.id);
        const prefix = s ? `#${s.n} ` : '';
        for (const line of e.data.replace(/\n$/, '').split('\n')) out.write(`${prefix}${line}\n`);
        break;
      }
      case 'step.done': {
        const s = steps.get(e.id);
        if (!s || s.status === 'cached') break;
        const secs = ((e.durationMs ?? Date.now() - s.started) / 1000).toFixed(1);
        out.write(e.error ? `#${s.n} ERROR: ${e.error}\n` : `#${s.n} DONE ${secs}s\n`);
        break;
      }
      case 'transfer':
        if (e.done) out.write(`${e.op} ${e.id}: done\n`);
        break;
      case 'warning':
        if (e.rule) break; // build checks: printed together at the end
        out.write(`WARNING: ${e.message}${e.location ? ` (${e.location.file}:${e.location.line})` : ''}\n`);
        break;
      case 'info':
        out.write(`${e.message}\n`);
        break;
    }
  };
  return { sink, close: () => undefined };
}

/** A live view: one line per step with status and elapsed time, plus the last lines of running steps. */
function ttyRenderer(): Renderer {
  const steps = new Map<string, StepState>();
  const order: string[] = [];
  const warnings: string[] = [];
  let n = 0;
  // log-update (and string-width under it) is loaded only for the live view.
  let lu: ((s: string) => void) & { done(): void } | undefined;
  void import('log-update').then((m) => { lu = m.logUpdateStderr; });
  const render = (): void => {
    if (!lu) return;
    const lines: string[] = [];
    for (const id of order) {
      const s = steps.get(id)!;
      const t = (((s.ended ?? Date.now()) - s.started) / 1000).toFixed(1);
      const mark = s.status === 'cached' ? 'CACHED' : s.status === 'error' ? 'ERROR' : s.status === 'done' ? 'DONE' : '…';
      lines.push(`#${s.n} ${s.name}  ${mark} ${s.status === 'cached' ? '' : t + 's'}`);
      if (s.status === 'running' && s.reason) lines.push(`   ↳ ${s.reason}`);
      if (s.status === 'running' || s.status === 'error') for (const l of s.tail.slice(-6)) lines.push(`   ${l}`);
    }
    for (const w of warnings) lines.push(`WARNING: ${w}`);
    lu(lines.join('\n'));
  };
  const timer = setInterval(render, 120);
  timer.unref();
  const sink = (e: BuildEvent): void => {
    switch (e.type) {
      case 'step.start':
        steps.set(e.id, { n: ++n, name: e.name, status: 'running', started: Date.now(), tail: [] });
        order.push(e.id);
        break;
      case 'step.cached': { const s = steps.get(e.id); if (s) { s.status = 'cached'; s.ended = Date.now(); } break; }
      case 'step.miss': { const s = steps.get(e.id); if (s) s.reason = e.reason.detail; break; }
      case 'step.log': { const s = steps.get(e.id); if (s) { s.tail.push(...e.data.replace(/\n$/, '').split('\n')); s.tail.splice(0, Math.max(0, s.tail.length - 20)); } break; }
      case 'step.done': { const s = steps.get(e.id); if (s && s.status !== 'cached') { s.status = e.error ? 'error' : 'done'; s.ended = Date.now(); } break; }
      case 'warning': if (!e.rule) warnings.push(e.message); break; // build checks: printed at the end
      default: break;
    }
  };
  return {
    sink,
    close: () => {
      clearInterval(timer);
      render();
      lu?.done();
    },
  };
}
