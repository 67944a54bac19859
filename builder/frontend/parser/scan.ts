/**
 * The Dockerfile line scanner (BuildKit's `Parse`): physical lines → logical lines (continuations,
 * comments, parser directives) → instruction nodes, reading heredoc bodies as it goes.
 */
import { DockerfileError } from '../errors.js';
import type { DockerfileAst, EscapeToken, Heredoc, InstructionNode, ParseWarning, ParserDirectives } from './ast.js';
import { heredocsFromLine, HeredocLexError } from './heredoc.js';
import { DISPATCH, isUnicodeSpace, LineError, parseArgs, splitCommand } from './line-parsers.js';

/** Longest physical line BuildKit's scanner accepts, in bytes (bufio.MaxScanTokenSize - 1). */
export const MAX_LINE_BYTES = 65535;

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);

/** `# key = value` at the top of the file; Go's `\s` is `[\t\n\f\r ]`. */
const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

interface MutableDirectives {
  syntax?: string;
  escape: EscapeToken;
  check?: string;
}

function trimLeadingSpace(s: string): string {
  let i = 0;
  while (i < s.length && isUnicodeSpace(s.charCodeAt(i))) i++;
  return i === 0 ? s : s.slice(i);
}

/** True when the line, ignoring leading whitespace, starts with `#`. */
function isComment(s: string): boolean {
  let i = 0;
  while (i < s.length && isUnicodeSpace(s.charCodeAt(i))) i++;
  return s.charCodeAt(i) === 0x23;
}

/** Go strings.TrimSpace: strips leading and trailing Unicode white space. */
function goTrimSpace(s: string): string {
  let i = 0;
  let j = s.length;
  while (i < j && isUnicodeSpace(s.charCodeAt(i))) i++;
  while (j > i && isUnicodeSpace(s.charCodeAt(j - 1))) j--;
  return s.slice(i, j);
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isUnicodeSpace(s.charCodeAt(i))) return false;
  return true;
}

/** Strips all trailing `\r` and `\n` (Go bytes.TrimRight(src, "\r\n")). */
function trimNewline(s: string): string {
  let j = s.length;
  while (j > 0) {
    const c = s.charCodeAt(j - 1);
    if (c !== 0x0d && c !== 0x0a) break;
    j--;
  }
  return j === s.length ? s : s.slice(0, j);
}

/**
 * The continuation rule: the escape character is the last non-blank (`[ \t]`) character and is
 * not itself preceded by the escape character (a line holding only it also continues).
 * Returns the line without it, or undefined when the line does not continue.
 */
function trimContinuation(line: string, esc: number): string | undefined {
  let e = line.length - 1;
  while (e >= 0) {
    const c = line.charCodeAt(e);
    if (c !== 0x20 && c !== 0x09) break;
    e--;
  }
  if (e < 0 || line.charCodeAt(e) !== esc) return undefined;
  if (e === 0) return '';
  if (line.charCodeAt(e - 1) === esc) return undefined;
  return line.slice(0, e);
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

interface Ctx {
  readonly file: string;
  escape: EscapeToken;
}

function lineError(ctx: Ctx, e: LineError, line: number, endLine: number): DockerfileError {
  return new DockerfileError(e.code, e.message, {
    hint: e.hint,
    location: endLine !== line ? { file: ctx.file, line, endLine } : { file: ctx.file, line },
  });
}

interface BareNode {
  cmd: string;
  original: string;
  flags: string[];
  args: string[];
  json: boolean;
  next?: BareNode;
}

/** BuildKit's newNodeFromLine: keyword, flags, then the instruction's own argument parser. */
function nodeFromLine(line: string, escape: string): BareNode {
  const { cmd, flags, rest } = splitCommand(line);
  const lower = cmd.toLowerCase();
  const kind = Object.hasOwn(DISPATCH, lower) ? DISPATCH[lower] : undefined; // not inherited names like `constructor`
  if (kind === 'subcommand') {
    if (rest === '') return { cmd: lower, original: line, flags, args: [], json: false };
    const next = nodeFromLine(rest, escape);
    return { cmd: lower, original: line, flags, args: [], json: false, next };
  }
  const { args, json } = parseArgs(kind, rest, escape);
  return { cmd: lower, original: line, flags, args, json };
}

function canContainHeredoc(n: BareNode): boolean {
  const target = n.cmd === 'onbuild' && n.next !== undefined ? n.next : n;
  return HEREDOC_INSTRUCTIONS.has(target.cmd) && !target.json;
}

function finish(n: BareNode, line: number, endLine: number, heredocs: readonly Heredoc[], comments: readonly string[]): InstructionNode {
  const c = comments.length > 0 ? { comments } : {};
  if (n.next === undefined) return { cmd: n.cmd, original: n.original, flags: n.flags, args: n.args, json: n.json, heredocs, line, endLine, ...c };
  const next = finish(n.next, line, endLine, heredocs, comments);
  return { cmd: n.cmd, original: n.original, flags: n.flags, args: n.args, json: n.json, heredocs, line, endLine, next, ...c };
}

const NO_HEREDOCS: readonly Heredoc[] = Object.freeze([]);

/** Parses decoded Dockerfile text (BOM already removed or not; it is removed here too). */
export function parseText(text: string, file: string): DockerfileAst {
  const ctx: Ctx = { file, escape: '\\' };
  const directives: MutableDirectives = { escape: '\\' };
  const seen = new Set<string>();
  let directivesDone = false;

  const lines = text.split('\n');
  // A final "\n" ends the last line rather than starting an empty one; an empty input has no lines.
  if (lines[lines.length - 1] === '') lines.pop();
  const total = lines.length;
  if (total > 0 && lines[0]!.charCodeAt(0) === 0xfeff) lines[0] = lines[0]!.slice(1);

  for (let i = 0; i < total; i++) {
    const l = lines[i]!;
    if (l.length > MAX_LINE_BYTES / 3 && utf8Length(l) > MAX_LINE_BYTES) {
      throw new DockerfileError('DOCKERFILE_SYNTAX', `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`, {
        hint: `split line ${i + 1} with line continuations (end a line with ${ctx.escape}) or move the data into a file in the build context`,
        location: { file, line: i + 1 },
      });
    }
  }

  /** processLine: trims the newline (and leading space on first lines), checks directives, drops comments. */
  const processLine = (raw: string, lineNo: number, stripLeft: boolean): string => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeadingSpace(token);
    if (!directivesDone) {
      const m = DIRECTIVE.exec(token);
      const key = m?.[1]?.toLowerCase();
      if (m === null || key === undefined || !KNOWN_DIRECTIVES.has(key)) {
        directivesDone = true;
      } else {
        if (seen.has(key)) {
          throw new DockerfileError('DOCKERFILE_SYNTAX', `only one ${key} parser directive can be used`, {
            hint: `remove the repeated "# ${key}=" line; a parser directive may appear once, at the top of the file`,
            location: { file, line: lineNo },
          });
        }
        seen.add(key);
        const value = m[2]!;
        if (key === 'escape') {
          if (value !== '`' && value !== '\\') {
            throw new DockerfileError('DOCKERFILE_SYNTAX', `invalid escape token '${value}' does not match \` or \\`, {
              hint: 'use "# escape=\\" (the default) or "# escape=`"',
              location: { file, line: lineNo },
            });
          }
          directives.escape = value;
          ctx.escape = value;
        } else if (key === 'syntax') {
          directives.syntax = value;
        } else {
          directives.check = value;
        }
      }
    }
    return isComment(token) ? '' : token;
  };

  const children: InstructionNode[] = [];
  const warnings: ParseWarning[] = [];
  let current = 0; // lines consumed so far (1-based number of the last line read)
  // BuildKit's PrevComment: comment lines read as first lines since the last instruction; a bare `#` resets them.
  let comments: string[] = [];
  while (current < total) {
    const raw = lines[current]!;
    const directivesBefore = seen.size;
    const first = processLine(raw, current + 1, true);
    if (isComment(raw) && seen.size === directivesBefore) {
      const c = goTrimSpace(raw.slice(1)); // as BuildKit: the line's first character dropped, then trimmed
      comments = c === '' ? [] : [...comments, c];
    }
    current++;
    const startLine = current;
    const esc = ctx.escape.charCodeAt(0);
    const cont = trimContinuation(first, esc);
    if (cont === undefined && first === '') continue;

    let line: string;
    if (cont === undefined) {
      line = first;
    } else {
      const parts: string[] = [cont];
      let open = true;
      let emptyContinuation = false;
      while (open && current < total) {
        const physical = lines[current]!;
        const processed = processLine(physical, current + 1, false);
        current++;
        if (isComment(physical)) continue;
        if (isBlank(processed)) {
          emptyContinuation = true;
          continue;
        }
        const c = trimContinuation(processed, esc);
        if (c === undefined) {
          parts.push(processed);
          open = false;
        } else {
          parts.push(c);
        }
      }
      line = parts.join('');
      if (emptyContinuation) warnings.push({ message: `Empty continuation line found in: ${line}`, line: current });
    }

    let bare: BareNode;
    try {
      bare = nodeFromLine(line, ctx.escape);
    } catch (e) {
      if (e instanceof LineError) throw lineError(ctx, e, startLine, current);
      throw e;
    }

    let heredocs: readonly Heredoc[] = NO_HEREDOCS;
    if (canContainHeredoc(bare) && line.includes('<<')) {
      let headers;
      try {
        headers = heredocsFromLine(line);
      } catch (e) {
        if (e instanceof HeredocLexError) {
          throw new DockerfileError('DOCKERFILE_SYNTAX', `invalid heredoc: ${e.message}`, {
            hint: 'quote the heredoc delimiter completely, e.g. <<"EOF" or <<\'EOF\'',
            location: { file, line: startLine, endLine: current },
          });
        }
        throw e;
      }
      if (headers.length > 0) {
        const docs: Heredoc[] = [];
        for (const h of headers) {
          const body: string[] = [];
          let terminated = false;
          while (current < total) {
            const physical = lines[current]!;
            current++;
            let candidate = trimNewline(physical);
            if (h.chomp) {
              let t = 0;
              while (candidate.charCodeAt(t) === 0x09) t++;
              if (t > 0) candidate = candidate.slice(t);
            }
            if (candidate === h.name) {
              terminated = true;
              break;
            }
            // Each body line keeps its newline; the file's last line may have none.
            body.push(current < total || text.endsWith('\n') ? physical + '\n' : physical);
          }
          if (!terminated) {
            throw new DockerfileError('DOCKERFILE_SYNTAX', `unterminated heredoc ${h.name}`, {
              hint: `end the heredoc started on line ${startLine} with a line containing only ${h.name}${h.chomp ? ' (leading tabs allowed)' : ''}`,
              location: { file, line: startLine, endLine: current },
            });
          }
          const doc: Heredoc = {
            name: h.name,
            content: body.join(''),
            expand: h.expand,
            chomp: h.chomp,
            ...(h.fileDescriptor !== 0 ? { fileDescriptor: h.fileDescriptor } : {}),
          };
          docs.push(doc);
        }
        heredocs = docs;
      }
    }
    children.push(finish(bare, startLine, current, heredocs, comments));
    comments = [];
  }

  if (children.length === 0) {
    throw new DockerfileError('DOCKERFILE_SYNTAX', 'file with no instructions', {
      hint: 'add at least a FROM instruction; the file is empty or holds only comments',
      location: { file, line: Math.max(total, 1) },
    });
  }

  const frozenDirectives: ParserDirectives = {
    escape: directives.escape,
    ...(directives.syntax !== undefined ? { syntax: directives.syntax } : {}),
    ...(directives.check !== undefined ? { check: directives.check } : {}),
  };
  return {
    file,
    directives: frozenDirectives,
    children,
    warnings,
    line: children[0]!.line,
    endLine: children[children.length - 1]!.endLine,
  };
}

