import { TsbuildError, type ErrorCode, type TsbuildErrorOptions } from '../../layer-store/core/index.js';

/** An error in a Dockerfile: always carries `{file, line}` once it leaves the front end. */
export class DockerfileError extends TsbuildError {
  constructor(code: Extract<ErrorCode, `DOCKERFILE_${string}` | 'EXPANSION'>, message: string, o: TsbuildErrorOptions = {}) {
    super(code, message, o);
    this.name = 'DockerfileError';
  }
}

/** Returns the closest of `candidates` to `word` (case-insensitive edit distance ≤ 2), for "did you mean" hints. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/** Levenshtein distance of `a` and `b` (case-sensitive). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
