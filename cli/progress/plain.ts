import type { BuildEvent } from '../../layer-store/core/index.js';
import { LogLines } from './lines.js';
import type { Renderer } from './renderer.js';

interface PlainStep { n: number; cached: boolean; started: number; log: LogLines }

/**
 * BuildKit's plain lines: `#N [stage i/n] INSTRUCTION`, then the step's output prefixed by `#N` (each line once,
 * whole, in its last `\r` state), then `#N DONE 1.2s`, `#N CACHED` or `#N ERROR: …`.
 */
export function plainRenderer(out: NodeJS.WritableStream): Renderer {
  const steps = new Map<string, PlainStep>();
  let n = 0;
  const writeLines = (s: PlainStep | undefined, lines: string[]): void => {
    const prefix = s ? `#${s.n} ` : '';
    for (const line of lines) out.write(`${prefix}${line}\n`);
  };
  const sink = (e: BuildEvent): void => {
    switch (e.type) {
      case 'step.start': {
        const s: PlainStep = { n: ++n, cached: false, started: Date.now(), log: new LogLines() };
        steps.set(e.id, s);
        out.write(`#${s.n} ${e.name}\n`);
        break;
      }
      case 'step.cached': {
        const s = steps.get(e.id);
        if (s) { s.cached = true; out.write(`#${s.n} CACHED\n`); }
        break;
      }
      case 'step.miss': {
        const s = steps.get(e.id);
        if (s) out.write(`#${s.n} running: ${e.reason.detail}\n`);
        break;
      }
      case 'step.log': {
        const s = steps.get(e.id);
        writeLines(s, s ? s.log.push(e.data) : e.data.replace(/\n$/, '').split('\n'));
        break;
      }
      case 'step.done': {
        const s = steps.get(e.id);
        if (!s || s.cached) break;
        writeLines(s, s.log.flush());
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
