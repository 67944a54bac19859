/**
 * The lexer's error and the limits that keep a hostile Dockerfile from exhausting the stack or memory
 * (BuildKit's Go lexer has none, but Go's stacks grow and its strings are not capped at 2^29 characters).
 */

/** `${…}` nested deeper than this is an EXPANSION error (real Dockerfiles nest two or three levels) … */
export const MAX_EXPANSION_DEPTH = 100;
/** … and so is a word whose expansion exceeds this many UTF-16 units (`ENV A=$A$A` doubles per line). */
export const MAX_EXPANSION_LENGTH = 1 << 20;

/** A word the shell lexer cannot read: the message is BuildKit's, the hint says what to change. */
export class LexError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

/** Returns the LexError for an expansion longer than `limit` UTF-16 units. */
export function tooLong(limit: number, hint = 'the variables expand to an unreasonably long value; check for self-referencing ENV/ARG values'): LexError {
  return new LexError(`expansion longer than ${limit} characters`, hint);
}
