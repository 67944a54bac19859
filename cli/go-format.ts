/**
 * Two Go formatters the CLI needs to print exactly what buildx prints: text/tabwriter (tab-separated cells →
 * aligned columns) and encoding/json's MarshalIndent (which escapes `<`, `>`, `&`, U+2028 and U+2029, and writes
 * control characters other than \b, \f, \n, \r and \t as \u00XX).
 */
import { jsonString } from './go-template/values.js';

/** Width of a cell as tabwriter counts it: runes (code points). */
function runes(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Returns `text` aligned as Go's `tabwriter.NewWriter(w, minwidth, 0, padding, ' ', 0)` writes it: cells end
 * with a tab, the text after a line's last tab is not part of a column, and a column spans the consecutive lines
 * that have a cell in it; each cell is padded with spaces to the column's widest cell plus `padding`.
 */
export function tabwrite(text: string, o: { padding: number; minwidth?: number }): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const last = lines.length - 1; // the text after the last newline (empty when text ends with one)
  let out = '';
  const writeLines = (from: number, to: number, widths: readonly number[]): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      cells.forEach((c, j) => {
        out += c;
        if (j < widths.length) out += ' '.repeat(Math.max(0, widths[j]! - runes(c)));
      });
      if (i < last) out += '\n';
    }
  };
  const format = (line0: number, line1: number, widths: readonly number[]): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      writeLines(start, i, widths);
      start = i;
      let width = o.minwidth ?? 0;
      for (; i < line1 && column < lines[i]!.length - 1; i++) width = Math.max(width, runes(lines[i]![column]!) + o.padding);
      format(start, i, [...widths, width]);
      start = i;
    }
    writeLines(start, line1, widths);
  };
  format(0, lines.length, []);
  return out;
}

/**
 * Returns `v` as Go's `json.MarshalIndent(v, "", indent)` writes it, keys in the object's order (the struct's
 * field order when the object was built in it); undefined properties are left out, as `omitempty` does.
 */
export function goJson(v: unknown, indent = '  ', depth = 0): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return jsonString(v, true);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const pad = indent.repeat(depth + 1);
  const end = indent.repeat(depth);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => pad + goJson(x, indent, depth + 1)).join(',\n')}\n${end}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${pad}${jsonString(k, true)}: ${goJson(x, indent, depth + 1)}`).join(',\n')}\n${end}}`;
}
