import type { BuildEvent } from '../../layer-store/core/index.js';
import { LogLines } from './lines.js';
import type { Renderer } from './renderer.js';

interface TtyStep { name: string; status: 'running' | 'cached' | 'done' | 'error'; started: number; ended?: number; log: LogLines; tail: string[]; reason?: string }

/** Lines of a running step's output kept on screen, as buildx's `=> => #` lines. */
const TAIL_LINES = 6;
const REPAINT_MS = 120;

/**
 * buildx's live view: a header `[+] Building 3.2s (4/7)` (elapsed time, steps ended / steps known), then one
 * line per step with its time, and the last lines of running or failed steps. The view is repainted in place;
 * on close the final frame stays (header marked FINISHED) and warnings follow it, each once.
 */
export function ttyRenderer(out: NodeJS.WriteStream = process.stderr): Renderer {
  const steps = new Map<string, TtyStep>();
  const order: string[] = [];
  const warnings: string[] = [];
  const began = Date.now();
  let closed = false;
  // log-update (and string-width under it) is loaded only for the live view.
  let lu: ((s: string) => void) & { done(): void } | undefined;
  // A terminal of no height (a pty nobody sized) cannot be repainted: then only the final frame is written.
  if ((out.rows ?? 0) > 0) void import('log-update').then((m) => { lu = m.logUpdateStderr; });
  const frame = (finished: boolean): string => {
    const width = Math.max(40, out.columns ?? 100);
    const ended = order.filter((id) => steps.get(id)!.status !== 'running').length;
    const secs = ((Date.now() - began) / 1000).toFixed(1);
    const lines = [`[+] Building ${secs}s (${ended}/${order.length})${finished ? ' FINISHED' : ''}`];
    for (const id of order) {
      const s = steps.get(id)!;
      const mark = s.status === 'cached' ? 'CACHED ' : s.status === 'error' ? 'ERROR ' : '';
      const t = `${(((s.ended ?? Date.now()) - s.started) / 1000).toFixed(1)}s`;
      lines.push(fit(` => ${mark}${s.name}`, t, width));
      if (s.status === 'running' && s.reason) lines.push(clip(` => => # because: ${s.reason}`, width));
      if (s.status === 'running' || s.status === 'error') {
        const tail = [...s.tail, ...(s.status === 'running' && s.log.pending() ? [s.log.pending()] : [])];
        for (const l of tail.slice(-TAIL_LINES)) lines.push(clip(` => => # ${l}`, width));
      }
    }
    return lines.join('\n');
  };
  const render = (): void => { if (lu && !closed) lu(frame(false)); };
  const timer = setInterval(render, REPAINT_MS);
  timer.unref();
  const sink = (e: BuildEvent): void => {
    switch (e.type) {
      case 'step.start':
        steps.set(e.id, { name: e.name, status: 'running', started: Date.now(), log: new LogLines(), tail: [] });
        order.push(e.id);
        break;
      case 'step.cached': { const s = steps.get(e.id); if (s) { s.status = 'cached'; s.ended = Date.now(); } break; }
      case 'step.miss': { const s = steps.get(e.id); if (s) s.reason = e.reason.detail; break; }
      case 'step.log': {
        const s = steps.get(e.id);
        if (s) { s.tail.push(...s.log.push(e.data)); s.tail.splice(0, Math.max(0, s.tail.length - 20)); }
        break;
      }
      case 'step.done': {
        const s = steps.get(e.id);
        if (s && s.status !== 'cached') { s.tail.push(...s.log.flush()); s.status = e.error ? 'error' : 'done'; s.ended = Date.now(); }
        break;
      }
      case 'warning': if (e.rule) break; // build checks: printed at the end
        warnings.push(`WARNING: ${e.message}${e.location ? ` (${e.location.file}:${e.location.line})` : ''}`); break;
      default: break;
    }
  };
  return {
    sink,
    close: () => {
      // Called on success and again in `finally`: the final frame and the warnings are written once.
      if (closed) return;
      clearInterval(timer);
      if (lu) { lu(frame(true)); lu.done(); } else out.write(`${frame(true)}\n`);
      closed = true;
      for (const w of warnings) out.write(`${w}\n`);
    },
  };
}

/** `left` and `right` on one line of `width` columns, `left` cut with `…` when it does not fit. */
function fit(left: string, right: string, width: number): string {
  const room = width - right.length - 1;
  const l = left.length > room ? `${left.slice(0, Math.max(0, room - 1))}…` : left;
  return `${l}${' '.repeat(Math.max(1, width - l.length - right.length))}${right}`;
}

function clip(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}
