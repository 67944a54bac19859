/**
 * The parser of Go's text/template: tokens → a tree of text, actions, if/with/range (with else and else if),
 * break/continue, define/template/block, pipelines with variable declarations, commands and operands.
 */
import { TemplateError } from './errors.js';
import { lex, lineOf, type Token } from './lexer.js';

export type Operand =
  | { readonly type: 'field'; readonly pos: number; readonly names: readonly string[] }
  | { readonly type: 'variable'; readonly pos: number; readonly name: string; readonly names: readonly string[] }
  | { readonly type: 'chain'; readonly pos: number; readonly node: Operand; readonly names: readonly string[] }
  | { readonly type: 'dot'; readonly pos: number }
  | { readonly type: 'nil'; readonly pos: number }
  | { readonly type: 'bool'; readonly pos: number; readonly value: boolean }
  | { readonly type: 'number'; readonly pos: number; readonly value: number; readonly text: string }
  | { readonly type: 'string'; readonly pos: number; readonly value: string }
  | { readonly type: 'identifier'; readonly pos: number; readonly name: string }
  | { readonly type: 'pipe'; readonly pos: number; readonly pipe: Pipeline };

export interface Command { readonly pos: number; readonly args: readonly Operand[] }
export interface Pipeline {
  readonly pos: number;
  readonly decl: readonly string[];
  /** `$x = …` (assignment) rather than `$x := …` (declaration). */
  readonly isAssign: boolean;
  readonly cmds: readonly Command[];
}

export type Node =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'action'; readonly pos: number; readonly pipe: Pipeline }
  | ControlNode
  | { readonly type: 'break' | 'continue'; readonly pos: number }
  | { readonly type: 'template'; readonly pos: number; readonly name: string; readonly pipe?: Pipeline };

/** An if, with or range: its pipeline, its body and the body of its else. */
export interface ControlNode {
  readonly type: 'if' | 'with' | 'range';
  readonly pos: number;
  readonly pipe: Pipeline;
  readonly list: readonly Node[];
  readonly elseList?: readonly Node[];
}

/** A parsed template: the main tree and the trees `define`/`block` named. */
export interface Tree {
  readonly name: string;
  readonly src: string;
  readonly root: readonly Node[];
  readonly defines: ReadonlyMap<string, readonly Node[]>;
}

/** Returns the parse tree of `src`; throws TemplateError with Go's message for a template that does not parse. */
export function parse(src: string, o: { name?: string; funcs?: ReadonlySet<string> } = {}): Tree {
  const name = o.name ?? '';
  const toks = lex(src, name);
  const defines = new Map<string, Node[]>();
  let i = 0;
  let rangeDepth = 0;
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: ${name}:${lineOf(src, pos)}: ${msg}`);
  };
  const peek = (): Token => toks[i]!;
  const next = (): Token => toks[i++]!;
  const peekNonSpace = (): Token => {
    let j = i;
    while (toks[j]!.type === 'space') j++;
    return toks[j]!;
  };
  const nextNonSpace = (): Token => {
    let t = next();
    while (t.type === 'space') t = next();
    return t;
  };
  const expect = (type: Token['type'], ctx: string): Token => {
    const t = nextNonSpace();
    if (t.type !== type) fail(t.pos, `unexpected ${describe(t)} in ${ctx}`);
    return t;
  };

  /** Parses nodes until `{{end}}`/`{{else}}` (returned as the terminator) or EOF. */
  const list = (ctx: string | undefined): { nodes: Node[]; end: 'end' | 'else' | 'eof' } => {
    const nodes: Node[] = [];
    for (;;) {
      const t = next();
      if (t.type === 'eof') {
        if (ctx) fail(t.pos, `unexpected EOF`);
        return { nodes, end: 'eof' };
      }
      if (t.type === 'text') {
        nodes.push({ type: 'text', text: t.val });
        continue;
      }
      // leftDelim
      const k = peekNonSpace();
      if (k.type === 'keyword') {
        nextNonSpace();
        switch (k.val) {
          case 'end':
            expect('rightDelim', 'end');
            if (!ctx) fail(k.pos, 'unexpected {{end}}');
            return { nodes, end: 'end' };
          case 'else':
            if (!ctx || ctx === 'define') fail(k.pos, 'unexpected {{else}}');
            return { nodes, end: 'else' };
          case 'if': case 'with': case 'range':
            nodes.push(control(k.val, k.pos));
            continue;
          case 'break': case 'continue':
            if (rangeDepth === 0) fail(k.pos, `{{${k.val}}} outside {{range}}`);
            expect('rightDelim', k.val);
            nodes.push({ type: k.val, pos: k.pos });
            continue;
          case 'template': case 'block': {
            const nt = nextNonSpace();
            if (nt.type !== 'string' && nt.type !== 'rawString') fail(nt.pos, `unexpected ${describe(nt)} in ${k.val} clause`);
            const tname = unquote(nt.val, nt.pos, fail);
            let pipe: Pipeline | undefined;
            if (peekNonSpace().type !== 'rightDelim') pipe = pipeline(k.val, false);
            else nextNonSpace();
            if (k.val === 'block') {
              const body = list('define');
              defines.set(tname, body.nodes);
            }
            nodes.push({ type: 'template', pos: k.pos, name: tname, ...(pipe ? { pipe } : {}) });
            continue;
          }
          case 'define': {
            const nt = nextNonSpace();
            if (nt.type !== 'string' && nt.type !== 'rawString') fail(nt.pos, `unexpected ${describe(nt)} in define clause`);
            expect('rightDelim', 'define clause');
            const body = list('define');
            defines.set(unquote(nt.val, nt.pos, fail), body.nodes);
            continue;
          }
        }
      }
      nodes.push({ type: 'action', pos: k.pos, pipe: pipeline('command', true) });
    }
  };

  const control = (kind: 'if' | 'with' | 'range', pos: number): Node => {
    const pipe = pipeline(kind, kind === 'range');
    if (kind === 'range') rangeDepth++;
    const body = list(kind);
    if (kind === 'range') rangeDepth--;
    let elseList: Node[] | undefined;
    if (body.end === 'else') {
      // `{{else if …}}` / `{{else with …}}` chains: the rest is one nested control inside the else list.
      const k = peekNonSpace();
      if ((kind === 'if' || kind === 'with') && k.type === 'keyword' && k.val === kind) {
        nextNonSpace();
        elseList = [control(kind, k.pos)];
      } else {
        expect('rightDelim', 'else');
        const e = list(kind);
        if (e.end !== 'end') fail(pos, `expected end; found {{else}}`);
        elseList = e.nodes;
      }
    }
    return { type: kind, pos, pipe, list: body.nodes, ...(elseList ? { elseList } : {}) };
  };

  const pipeline = (ctx: string, allowDecl: boolean): Pipeline => {
    const start = peekNonSpace().pos;
    const decl: string[] = [];
    let isAssign = false;
    // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range only).
    const save = i;
    const v = nextNonSpace();
    if (v.type === 'variable') {
      const after = nextNonSpace();
      if (after.type === 'declare' || after.type === 'assign') {
        decl.push(v.val);
        isAssign = after.type === 'assign';
      } else if (after.type === 'comma' && allowDecl && ctx === 'range') {
        const v2 = expect('variable', 'range');
        const op = nextNonSpace();
        if (op.type !== 'declare' && op.type !== 'assign') fail(op.pos, `range can only initialize variables`);
        decl.push(v.val, v2.val);
        isAssign = op.type === 'assign';
      } else i = save;
    } else i = save;
    const cmds: Command[] = [];
    for (;;) {
      const t = peekNonSpace();
      if (t.type === 'rightDelim' || t.type === 'rightParen') {
        if (t.type === 'rightDelim' || ctx !== 'parenthesized pipeline') nextNonSpace();
        if (t.type === 'rightParen' && ctx !== 'parenthesized pipeline') fail(t.pos, 'unexpected right paren');
        if (cmds.length === 0) fail(t.pos, `missing value for ${ctx}`);
        break;
      }
      cmds.push(command(ctx));
    }
    return { pos: start, decl, isAssign, cmds };
  };

  const command = (ctx: string): Command => {
    const args: Operand[] = [];
    const pos = peekNonSpace().pos;
    for (;;) {
      const t = peekNonSpace();
      if (t.type === 'rightDelim' || t.type === 'rightParen') break;
      if (t.type === 'pipe') {
        nextNonSpace();
        if (args.length === 0) fail(t.pos, 'missing command');
        break;
      }
      if (args.length > 0 && peek().type !== 'space') fail(peek().pos, `missing space?`);
      nextNonSpace();
      args.push(operand(t, ctx));
    }
    if (args.length === 0) fail(pos, `empty command`);
    return { pos, args };
  };

  /** An operand, with the fields that follow it without a space (`$x.A.B`, `(…).A`). */
  const operand = (t: Token, ctx: string): Operand => {
    let node: Operand;
    switch (t.type) {
      case 'field': {
        const names = [t.val.slice(1)];
        while (peek().type === 'field') names.push(next().val.slice(1));
        return { type: 'field', pos: t.pos, names };
      }
      case 'variable': {
        const names: string[] = [];
        while (peek().type === 'field') names.push(next().val.slice(1));
        return { type: 'variable', pos: t.pos, name: t.val, names };
      }
      case 'dot': node = { type: 'dot', pos: t.pos }; break;
      case 'nil': node = { type: 'nil', pos: t.pos }; break;
      case 'bool': node = { type: 'bool', pos: t.pos, value: t.val === 'true' }; break;
      case 'number': node = { type: 'number', pos: t.pos, value: parseNumber(t.val, t.pos, fail), text: t.val }; break;
      case 'char': node = { type: 'number', pos: t.pos, value: unquote(`"${t.val.slice(1, -1)}"`, t.pos, fail).codePointAt(0) ?? 0, text: t.val }; break;
      case 'string': case 'rawString': node = { type: 'string', pos: t.pos, value: unquote(t.val, t.pos, fail) }; break;
      case 'identifier':
        if (o.funcs && !o.funcs.has(t.val)) fail(t.pos, `function ${JSON.stringify(t.val)} not defined`);
        node = { type: 'identifier', pos: t.pos, name: t.val };
        break;
      case 'leftParen':
        node = { type: 'pipe', pos: t.pos, pipe: pipeline('parenthesized pipeline', false) };
        expect('rightParen', 'parenthesized pipeline');
        break;
      default:
        return fail(t.pos, `unexpected ${describe(t)} in ${ctx}`);
    }
    if (peek().type === 'field') {
      const names: string[] = [];
      while (peek().type === 'field') names.push(next().val.slice(1));
      if (node.type === 'bool' || node.type === 'string' || node.type === 'number' || node.type === 'nil') fail(t.pos, `unexpected . after term ${JSON.stringify(t.val)}`);
      return { type: 'chain', pos: t.pos, node, names };
    }
    return node;
  };

  const root = list(undefined).nodes;
  return { name, src, root, defines };
}

function describe(t: Token): string {
  switch (t.type) {
    case 'eof': return 'EOF';
    case 'rightDelim': return '"}}"';
    case 'leftDelim': return '"{{"';
    default: return `<${t.val}>`;
  }
}

function parseNumber(text: string, pos: number, fail: (pos: number, msg: string) => never): number {
  const t = text.replace(/_/g, '');
  const neg = t.startsWith('-');
  const body = t.replace(/^[+-]/, '');
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
  else if (/^0[0-7]+$/.test(body)) v = parseInt(body, 8);
  else v = Number(body);
  if (body === '' || Number.isNaN(v)) fail(pos, `bad number syntax: ${JSON.stringify(text)}`);
  return neg ? -v : v;
}

/** Returns the value of a Go string literal (interpreted "…" or raw `…`). */
function unquote(lit: string, pos: number, fail: (pos: number, msg: string) => never): string {
  if (lit.startsWith('`')) return lit.slice(1, -1).replace(/\r/g, '');
  const body = lit.slice(1, -1);
  let out = '';
  for (let k = 0; k < body.length; k++) {
    const c = body[k]!;
    if (c !== '\\') { out += c; continue; }
    const e = body[++k];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e !== undefined && e in simple) { out += simple[e]; continue; }
    const hex = (n: number): void => {
      const h = body.slice(k + 1, k + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) fail(pos, `invalid syntax in string ${lit}`);
      out += String.fromCodePoint(parseInt(h, 16));
      k += n;
    };
    if (e === 'x') hex(2);
    else if (e === 'u') hex(4);
    else if (e === 'U') hex(8);
    else if (e !== undefined && /[0-7]/.test(e)) {
      const o = body.slice(k, k + 3);
      if (!/^[0-7]{3}$/.test(o)) fail(pos, `invalid syntax in string ${lit}`);
      out += String.fromCharCode(parseInt(o, 8));
      k += 2;
    } else fail(pos, `invalid syntax in string ${lit}`);
  }
  return out;
}
