/** Go's fmt.Sprintf, Sprint and Sprintln for the values a template handles (strings, numbers, bools, slices, maps, structs). */
import { formatNumber, kindOf, printValue } from './values.js';

function typeName(v: unknown): string {
  const k = kindOf(v);
  return k === 'slice' ? '[]interface {}' : k === 'map' ? 'map[string]interface {}' : k === 'nil' || k === 'invalid' ? '<nil>' : k;
}

function pad(s: string, width: number | undefined, minus: boolean, zero: boolean): string {
  if (width === undefined || [...s].length >= width) return s;
  const fill = width - [...s].length;
  if (minus) return s + ' '.repeat(fill);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(fill) + s.slice(sign.length);
  }
  return ' '.repeat(fill) + s;
}

/** Go's %q of a string (strconv.Quote). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

function bad(verb: string, v: unknown): string {
  return `%!${verb}(${typeName(v)}=${printValue(v)})`;
}

function formatOne(verb: string, v: unknown, f: { plus: boolean; sharp: boolean; space: boolean; prec: number | undefined }): string {
  switch (verb) {
    case 'v':
      if (f.sharp && typeof v === 'string') return goQuote(v);
      return printValue(v);
    case 's':
      if (typeof v === 'string') return f.prec !== undefined ? [...v].slice(0, f.prec).join('') : v;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return printValue(v);
      return typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined ? bad(verb, v) : printValue(v);
    case 'q':
      if (typeof v === 'string') return goQuote(v);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `[${v.map(goQuote).join(' ')}]`;
      if (typeof v === 'number' && Number.isInteger(v)) return `'${String.fromCodePoint(v)}'`;
      return bad(verb, v);
    case 'd':
      if (typeof v === 'number' && Number.isInteger(v)) return (f.plus && v >= 0 ? '+' : f.space && v >= 0 ? ' ' : '') + String(v);
      if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return printValue(v);
      return bad(verb, v);
    case 'x': case 'X': case 'o': case 'b': {
      const base = verb === 'o' ? 8 : verb === 'b' ? 2 : 16;
      let s: string;
      if (typeof v === 'number' && Number.isInteger(v)) s = (v < 0 ? '-' : '') + Math.abs(v).toString(base);
      else if (typeof v === 'string' && base === 16) s = Buffer.from(v, 'utf8').toString('hex');
      else return bad(verb, v);
      if (f.sharp && base === 16) s = '0x' + s;
      return verb === 'X' ? s.toUpperCase() : s;
    }
    case 'c':
      return typeof v === 'number' && Number.isInteger(v) ? String.fromCodePoint(v) : bad(verb, v);
    case 't':
      return typeof v === 'boolean' ? String(v) : bad(verb, v);
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
      if (typeof v !== 'number') return bad(verb, v);
      const sign = f.plus && v >= 0 ? '+' : f.space && v >= 0 ? ' ' : '';
      let s: string;
      if (verb === 'f' || verb === 'F') s = v.toFixed(f.prec ?? 6);
      else if (verb === 'e' || verb === 'E') {
        const [m, e] = v.toExponential(f.prec ?? 6).split('e');
        const ev = Number(e);
        s = `${m}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
        if (verb === 'E') s = s.toUpperCase();
      } else s = f.prec !== undefined ? String(Number(v.toPrecision(f.prec))) : formatNumber(v).replace(/^(-?\d+)$/, '$1');
      return sign + s;
    }
    default:
      return `%!${verb}(${typeName(v)}=${printValue(v)})`;
  }
}

/** Returns Go's fmt.Sprintf(format, args…). */
export function sprintf(format: string, args: readonly unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') { out += c; continue; }
    let j = i + 1;
    const f = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; j < format.length; j++) {
      const fc = format[j];
      if (fc === '-') f.minus = true;
      else if (fc === '+') f.plus = true;
      else if (fc === '#') f.sharp = true;
      else if (fc === ' ') f.space = true;
      else if (fc === '0') f.zero = true;
      else break;
    }
    let width: number | undefined;
    if (format[j] === '*') {
      const w = args[argi++];
      width = typeof w === 'number' ? w : undefined;
      j++;
    } else {
      const m = /^\d+/.exec(format.slice(j));
      if (m) { width = Number(m[0]); j += m[0].length; }
    }
    let prec: number | undefined;
    if (format[j] === '.') {
      j++;
      const m = /^\d+/.exec(format.slice(j));
      prec = m ? Number(m[0]) : 0;
      if (m) j += m[0].length;
    }
    const verb = format[j];
    i = j;
    if (verb === undefined) { out += '%!(NOVERB)'; break; }
    if (verb === '%') { out += '%'; continue; }
    if (argi >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    const s = formatOne(verb, args[argi++], { plus: f.plus, sharp: f.sharp, space: f.space, prec });
    out += pad(s, width, f.minus, f.zero && !f.minus && verb !== 's' && verb !== 'v' && verb !== 'q');
  }
  if (argi < args.length) out += `%!(EXTRA ${args.slice(argi).map((a) => `${typeName(a)}=${printValue(a)}`).join(', ')})`;
  return out;
}

/** Returns Go's fmt.Sprint(args…): a space between operands when neither is a string. */
export function sprint(args: readonly unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += printValue(a);
  });
  return out;
}

/** Returns Go's fmt.Sprintln(args…): spaces between all operands and a newline. */
export function sprintln(args: readonly unknown[]): string {
  return args.map(printValue).join(' ') + '\n';
}
