/** Field splitting as BuildKit's lex.go does it (`wordsStruct`): unquoted Go-unicode.IsSpace runs end a field. */

const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
/** String.fromCodePoint, without the call for ASCII (most of every Dockerfile). */
export const chr = (cp: number): string => (cp >= 0 && cp < 128 ? ASCII[cp]! : String.fromCodePoint(cp));

const SPACE_RE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const HAS_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

/** Go's unicode.IsSpace. */
function isSpace(cp: number): boolean {
  if (cp < 128) return cp === 32 || (cp >= 9 && cp <= 13);
  return SPACE_RE.test(String.fromCodePoint(cp));
}

/** Accumulates fields the way BuildKit's wordsStruct does. */
export class Words {
  word = '';
  words: string[] = [];
  inWord = false;

  addChar(cp: number): void {
    if (isSpace(cp)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(cp);
    }
  }
  addRawChar(cp: number): void {
    this.word += chr(cp);
    this.inWord = true;
  }
  addString(s: string): void {
    if (s.length === 0) return;
    if (!HAS_SPACE.test(s)) {
      // the common case, and the only fast one for long values: no field break inside
      this.addRawString(s);
      return;
    }
    for (const ch of s) this.addChar(ch.codePointAt(0)!);
  }
  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  getWords(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}
