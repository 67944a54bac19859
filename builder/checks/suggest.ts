/** BuildKit's suggest.Search: the closest name within edit distance 2, case-sensitive; none on an exact match. */

/** Returns the option closest to `val` (Levenshtein distance below 3), or undefined (also when one equals it). */
export function searchName(val: string, options: readonly string[]): string | undefined {
  let match: string | undefined;
  let min = 3;
  for (const o of options) {
    if (o === val) return undefined;
    const d = distance(val, o);
    if (d < min) {
      match = o;
      min = d;
    }
  }
  return match;
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = t;
    }
  }
  return prev[b.length]!;
}
