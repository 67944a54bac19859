/**
 * History `created_by` strings exactly as BuildKit's dockerfile2llb writes them (convert.go `commitToHistory`):
 * steps that run in a container end with ` # buildkit`; the comment is `buildkit.dockerfile.v0`.
 */

export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** Go's %q for one string (strconv.Quote for the printable ASCII/UTF-8 we meet in argv). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return '[' + list.map(goQuote).join(' ') + ']';
}

/** Go's `%v` of a []string: `[a b]`. */
export function goList(list: readonly string[]): string {
  return '[' + list.join(' ') + ']';
}

/**
 * `RUN |N K=V … argv…` — BuildKit prefixes the build args visible to the step (in declaration order, value from
 * the environment when set) with their count, so that a different arg value changes history.
 */
export function runCreatedBy(args: readonly string[], buildArgs: readonly (readonly [string, string])[]): string {
  const pre = buildArgs.length > 0 ? [`|${buildArgs.length}`, ...buildArgs.map(([k, v]) => `${k}=${v}`)] : [];
  return 'RUN ' + [...pre, ...args].join(' ') + ' # buildkit';
}

/** `COPY a b /dst # buildkit` (ADD likewise): the sources as written, heredoc names among them, and the destination. */
export function copyCreatedBy(kind: 'copy' | 'add', sources: readonly string[], heredocPaths: readonly string[], dest: string): string {
  return `${kind.toUpperCase()} ${[...sources, ...heredocPaths].join(' ')} ${dest} # buildkit`;
}
