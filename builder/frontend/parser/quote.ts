/**
 * Go's `strconv.Quote`, for BuildKit's `Node.Dump` format: `"` and `\` escaped, printable runes
 * (Unicode letters, marks, numbers, punctuation, symbols and ASCII space) kept literal,
 * `\a \b \f \n \r \t \v` as such, other control bytes and DEL as `\xNN`, other non-printable
 * runes as `\uXXXX` / `\UXXXXXXXX` (lower-case hex).
 */

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Quotes `s` exactly as Go's `strconv.Quote` does. */
export function goQuote(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  const out: string[] = ['"'];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x22) out.push('\\"');
    else if (cp === 0x5c) out.push('\\\\');
    else if (cp >= 0x20 && cp < 0x7f) out.push(ch);
    else if (cp < 0x80) out.push(SHORT_ESCAPES[cp] ?? `\\x${hex(cp, 2)}`);
    else if (cp >= 0xd800 && cp <= 0xdfff) out.push('\ufffd'); // lone surrogate: Go would hold U+FFFD, which is printable
    else if (PRINTABLE.test(ch)) out.push(ch);
    else if (cp < 0x10000) out.push(`\\u${hex(cp, 4)}`);
    else out.push(`\\U${hex(cp, 8)}`);
  }
  out.push('"');
  return out.join('');
}
