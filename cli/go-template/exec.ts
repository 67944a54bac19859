/**
 * The executor of Go's text/template: walks a parse tree with a dot value and variables, evaluating pipelines
 * (each command's result is the last argument of the next), fields (struct fields must exist, map keys may not),
 * and function calls. Any failure is a TemplateError with Go's message: `template: NAME:LINE:COL: executing
 * "NAME" at <NODE>: …`.
 */
import { TemplateError } from './errors.js';
import { FuncError, type TemplateFunc } from './funcs.js';
import type { Command, ControlNode, Node, Operand, Pipeline, Tree } from './parser.js';
import { isGoMap, isStruct, kindOf, printValue, truth } from './values.js';

class Break {}
class Continue {}

interface Variable { readonly name: string; value: unknown }

/** Returns the output of `tree` run with `data` as dot (and `$`). */
export function execute(tree: Tree, data: unknown, funcs: Readonly<Record<string, TemplateFunc>>): string {
  const out: string[] = [];
  const vars: Variable[] = [{ name: '$', value: data }];

  const fail = (pos: number, at: string, msg: string): never => {
    const before = tree.src.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n') - 1;
    throw new TemplateError(`template: ${tree.name}:${line}:${col}: executing "${tree.name}" at <${at}>: ${msg}`);
  };

  const walk = (dot: unknown, nodes: readonly Node[]): void => {
    for (const n of nodes) {
      switch (n.type) {
        case 'text': out.push(n.text); break;
        case 'action': {
          const v = pipeline(dot, n.pipe);
          if (n.pipe.decl.length === 0) out.push(printValue(v));
          break;
        }
        case 'if': case 'with': {
          const mark = vars.length;
          const v = pipeline(dot, n.pipe);
          if (truth(v)) walk(n.type === 'with' ? v : dot, n.list);
          else if (n.elseList) walk(dot, n.elseList);
          vars.length = mark;
          break;
        }
        case 'range': rangeNode(dot, n); break;
        case 'break': throw new Break();
        case 'continue': throw new Continue();
        case 'template': {
          const body = tree.defines.get(n.name);
          if (!body) fail(n.pos, `template ${n.name}`, `no such template ${JSON.stringify(n.name)}`);
          const inner = n.pipe ? pipeline(dot, n.pipe) : null;
          const saved = vars.splice(0);
          vars.push({ name: '$', value: inner });
          try {
            walk(inner, body!);
          } finally {
            vars.splice(0, vars.length, ...saved);
          }
          break;
        }
      }
    }
  };

  const rangeNode = (dot: unknown, n: ControlNode): void => {
    const mark = vars.length;
    // The pipeline's value without declaring its variables: range sets them per element.
    const v = pipeline(dot, { ...n.pipe, decl: [] });
    let items: [unknown, unknown][];
    if (v === null || v === undefined) items = [];
    else if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (isGoMap(v)) items = Object.keys(v).sort().map((k) => [k, v[k]]);
    else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else return fail(n.pos, 'range', `range can't iterate over ${printValue(v)}`);
    if (items.length === 0) {
      if (n.elseList) walk(dot, n.elseList);
      vars.length = mark;
      return;
    }
    for (const [k, x] of items) {
      if (n.pipe.decl.length === 1) setVar(n.pipe.decl[0]!, x, n.pipe.isAssign, n.pos);
      else if (n.pipe.decl.length === 2) {
        setVar(n.pipe.decl[0]!, k, n.pipe.isAssign, n.pos);
        setVar(n.pipe.decl[1]!, x, n.pipe.isAssign, n.pos);
      }
      try {
        walk(x, n.list);
      } catch (e) {
        if (e instanceof Break) break;
        if (!(e instanceof Continue)) throw e;
      } finally {
        if (!n.pipe.isAssign) vars.length = mark;
      }
    }
    vars.length = mark;
  };

  const setVar = (name: string, value: unknown, assign: boolean, pos: number): void => {
    if (!assign) {
      vars.push({ name, value });
      return;
    }
    for (let i = vars.length - 1; i >= 0; i--) {
      if (vars[i]!.name === name) {
        vars[i]!.value = value;
        return;
      }
    }
    fail(pos, name, `undefined variable: ${name}`);
  };

  const lookupVar = (name: string, pos: number): unknown => {
    for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.name === name) return vars[i]!.value;
    return fail(pos, name, `undefined variable: ${name}`);
  };

  const pipeline = (dot: unknown, p: Pipeline): unknown => {
    let value: unknown;
    let first = true;
    for (const c of p.cmds) {
      value = command(dot, c, first ? NONE : value);
      first = false;
    }
    for (const d of p.decl) setVar(d, value, p.isAssign, p.pos);
    return value;
  };

  const command = (dot: unknown, c: Command, final: unknown): unknown => {
    const [head, ...rest] = c.args;
    const at = c.args.map(show).join(' ');
    if (head!.type === 'identifier') return call(dot, head!.name, rest, final, head!.pos, at);
    if (rest.length > 0 || final !== NONE) {
      if (head!.type === 'field' || head!.type === 'chain' || head!.type === 'variable') {
        // A field or variable given arguments: methods only, and our data has none.
        return fail(head!.pos, at, `${show(head!)} is not a method but has arguments`);
      }
      return fail(head!.pos, at, `can't give argument to non-function ${show(head!)}`);
    }
    return operand(dot, head!);
  };

  const call = (dot: unknown, name: string, argNodes: readonly Operand[], final: unknown, pos: number, at: string): unknown => {
    const f = funcs[name];
    if (!f) return fail(pos, at, `function ${JSON.stringify(name)} not defined`);
    // and/or stop at the first argument that decides the result, as Go ≥ 1.18 does.
    if (name === 'and' || name === 'or') {
      if (argNodes.length + (final !== NONE ? 1 : 0) === 0) return fail(pos, at, `wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      const all: (() => unknown)[] = [...argNodes.map((a) => () => operand(dot, a)), ...(final !== NONE ? [() => final] : [])];
      for (const get of all) {
        v = get();
        if (truth(v) === (name === 'or')) return v;
      }
      return v;
    }
    const args = argNodes.map((a) => operand(dot, a));
    if (final !== NONE) args.push(final);
    try {
      return f(...args);
    } catch (e) {
      if (e instanceof FuncError) {
        const msg = e.message.startsWith('error calling') || e.message.startsWith('wrong') ? e.message : `error calling ${name}: ${e.message}`;
        return fail(pos, at, msg);
      }
      throw e;
    }
  };

  const operand = (dot: unknown, a: Operand): unknown => {
    switch (a.type) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'bool': case 'number': case 'string': return a.value;
      case 'field': return fields(dot, a.names, a);
      case 'variable': return fields(lookupVar(a.name, a.pos), a.names, a);
      case 'chain': return fields(operand(dot, a.node), a.names, a);
      case 'pipe': {
        const mark = vars.length;
        const v = pipeline(dot, a.pipe);
        vars.length = mark;
        return v;
      }
      case 'identifier': return call(dot, a.name, [], NONE, a.pos, a.name);
    }
  };

  const fields = (receiver: unknown, names: readonly string[], node: Operand): unknown => {
    let v = receiver;
    for (const name of names) {
      if (v === undefined) return undefined;
      if (v === null) return fail(node.pos, show(node), `nil pointer evaluating interface {}.${name}`);
      if (isGoMap(v)) v = Object.prototype.hasOwnProperty.call(v, name) ? v[name] : undefined;
      else if (isStruct(v) && Object.prototype.hasOwnProperty.call(v, name)) v = v[name];
      else if (isStruct(v)) return fail(node.pos, show(node), `map has no entry for key ${JSON.stringify(name)}`);
      else return fail(node.pos, show(node), `can't evaluate field ${name} in type ${kindOf(v)}`);
    }
    return v;
  };

  walk(data, tree.root);
  return out.join('');
}

const NONE = Symbol('no final value');

function show(a: Operand): string {
  switch (a.type) {
    case 'dot': return '.';
    case 'nil': return 'nil';
    case 'bool': return String(a.value);
    case 'number': return a.text;
    case 'string': return JSON.stringify(a.value);
    case 'identifier': return a.name;
    case 'field': return '.' + a.names.join('.');
    case 'variable': return a.name + a.names.map((n) => '.' + n).join('');
    case 'chain': return `${show(a.node)}.${a.names.join('.')}`;
    case 'pipe': return '(' + a.pipe.cmds.map((c) => c.args.map(show).join(' ')).join(' | ') + ')';
  }
}
