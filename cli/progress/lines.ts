/**
 * A step's output as lines, the way a terminal would have left them: text rewritten with `\r` (apt's and npm's
 * progress bars) keeps only its last state, and a line split across two output chunks is printed once, whole.
 */
export class LogLines {
  private partial = '';

  /** Adds a chunk of output; returns the lines it completed. */
  push(data: string): string[] {
    const text = this.partial + data;
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    return parts.map(lastState);
  }

  /** Returns the unterminated rest (the step ended without a newline), if any, and forgets it. */
  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest === '' ? [] : [lastState(rest)];
  }

  /** The line being written now (not yet ended by a newline), as it shows at this moment. */
  pending(): string {
    return lastState(this.partial);
  }
}

/** The text a terminal shows for a line with carriage returns: what follows the last `\r` that has text after it. */
export function lastState(line: string): string {
  if (!line.includes('\r')) return line;
  const segments = line.split('\r');
  for (let i = segments.length - 1; i >= 0; i--) if (segments[i] !== '') return segments[i]!;
  return '';
}
