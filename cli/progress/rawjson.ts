import { createHash } from 'node:crypto';
import type { BuildEvent, EventSink } from '../../layer-store/core/index.js';

/**
 * buildx's `--progress rawjson`: one BuildKit `SolveStatus` per line (client/graph.go: `vertexes`, `statuses`,
 * `logs`, `warnings`; times RFC 3339; log data and warning texts base64, as Go marshals []byte), on stderr as
 * buildx prints it, so tools that read BuildKit's raw status read tsbuild's. Mapping: a step is a vertex whose
 * digest is the sha256 of tsbuild's step id (started; completed with `cached` or `error`); a step's output is a
 * log (stream 1 stdout, 2 stderr); a transfer is a status; a warning a warning (level 1); an info message a
 * vertex started and completed at once, as BuildKit's one-off vertices ("exporting manifest …").
 */
export function rawJsonRenderer(out: NodeJS.WritableStream): { readonly sink: EventSink; close(): void } {
  const vertexes = new Map<string, { digest: string; name: string; started: string }>();
  const transfers = new Map<string, string>();
  const digestOf = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;
  const write = (status: Record<string, unknown>): void => { out.write(JSON.stringify(status) + '\n'); };
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const sink = (e: BuildEvent): void => {
    const now = new Date().toISOString();
    switch (e.type) {
      case 'step.start': {
        const v = { digest: digestOf(e.id), name: e.name, started: now };
        vertexes.set(e.id, v);
        write({ vertexes: [v] });
        break;
      }
      case 'step.cached': {
        const v = vertexes.get(e.id);
        if (v) write({ vertexes: [{ ...v, completed: now, cached: true }] });
        break;
      }
      case 'step.done': {
        const v = vertexes.get(e.id);
        if (v) write({ vertexes: [{ ...v, completed: now, ...(e.error ? { error: e.error } : {}) }] });
        break;
      }
      case 'step.miss':
        break; // BuildKit has no cache-miss event; `--explain` and `--progress json` carry the reason
      case 'step.log': {
        const v = vertexes.get(e.id);
        write({ logs: [{ ...(v ? { vertex: v.digest } : {}), stream: e.stream === 'stdout' ? 1 : 2, data: b64(e.data), timestamp: now }] });
        break;
      }
      case 'transfer': {
        const id = `${e.op} ${e.id}`;
        const started = transfers.get(id) ?? now;
        transfers.set(id, started);
        write({ statuses: [{ id, name: id, ...(e.total !== undefined ? { total: e.total } : {}), current: e.current, timestamp: now, started, ...(e.done ? { completed: now } : {}) }] });
        break;
      }
      case 'warning':
        write({ warnings: [{ level: 1, short: b64(e.location ? `${e.message} (${e.location.file}:${e.location.line})` : e.message) }] });
        break;
      case 'info':
        write({ vertexes: [{ digest: digestOf(`info ${now} ${e.message}`), name: e.message, started: now, completed: now }] });
        break;
    }
  };
  return { sink, close: () => undefined };
}
