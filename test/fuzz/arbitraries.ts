/**
 * Arbitraries the text targets (parser, reference) share: random edits of a valid input, and long
 * repetitions of a small piece that catch quadratic scans and regex backtracking.
 */
import fc from 'fast-check';

const alnum = 'aZ09_-./:@$={}[]"\'\\`#<>*?!%&|;+, \t';
/** One character of Dockerfile-ish text: letters, digits, quotes, operators, escapes and blanks. */
export const dfChar = fc.constantFrom(...alnum.split(''));

/** Random edits of a text: insert, delete or replace characters at random places. */
export const edits = fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), del: fc.nat(4), ins: fc.string({ unit: fc.oneof(dfChar, fc.constantFrom('\n', '\r', '\\', '`', '<<', '"', '\0')), maxLength: 4 }) }), { maxLength: 4 });

/** Returns `s` with the edits applied in order (each position is a fraction of the current length). */
export function applyEdits(s: string, es: readonly { at: number; del: number; ins: string }[]): string {
  let out = s;
  for (const e of es) {
    const p = Math.floor(e.at * out.length);
    out = out.slice(0, p) + e.ins + out.slice(p + e.del);
  }
  return out;
}

/** Long repetitions of a small piece with a bad ending: catches quadratic scans and regex backtracking. */
export function repetitions(pieces: readonly string[], suffixes: readonly string[], maxN: number): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...pieces), fc.integer({ min: 100, max: maxN }), fc.constantFrom(...suffixes), fc.constantFrom('', 'FROM alpine\nRUN ', 'FROM a\nENV X='))
    .map(([p, n, s, pre]) => pre + p.repeat(n) + s);
}
