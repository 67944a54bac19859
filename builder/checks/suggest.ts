/** BuildKit's suggest.Search: the closest name within edit distance 2, case-sensitive; none on an exact match. */
import { editDistance } from '../frontend/index.js';

/** Returns the option closest to `val` (Levenshtein distance below 3), or undefined (also when one equals it). */
export function searchName(val: string, options: readonly string[]): string | undefined {
  let match: string | undefined;
  let min = 3;
  for (const o of options) {
    if (o === val) return undefined;
    const d = editDistance(val, o);
    if (d < min) {
      match = o;
      min = d;
    }
  }
  return match;
}
