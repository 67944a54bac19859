/**
 * Go text/template as docker's `--format` runs it: the template language (actions, pipelines, variables, if/
 * else if/with/range/break/continue, define/template/block, `{{-`/`-}}` trimming, comments), text/template's
 * builtins and docker's functions (json, split, join, title, lower, upper, pad, truncate), and docker's list
 * formatting (`table` prefix: a header row and Go tabwriter columns; `json`: one JSON object per line). Pure.
 */
import { tabwrite } from '../go-format.js';
import { TemplateError } from './errors.js';
import { execute } from './exec.js';
import { BUILTINS, DOCKER_FUNCS, type TemplateFunc } from './funcs.js';
import { parse, type Tree } from './parser.js';

export { TemplateError } from './errors.js';
export { goMap, goMapsDeep, goNil, goStruct, marshalJson, printValue, type MarshalOptions } from './values.js';
export { sprintf } from './printf.js';
export type { TemplateFunc } from './funcs.js';

/** A parsed template; `execute` runs it on a value (dot and `$`). */
export interface GoTemplate {
  readonly source: string;
  execute(data: unknown): string;
}

/** Options of compileTemplate. */
export interface TemplateOptions {
  /** The template's name in messages (default "", as docker's). */
  readonly name?: string;
  /** Extra or replacing functions (default: text/template's builtins plus docker's). */
  readonly funcs?: Readonly<Record<string, TemplateFunc>>;
}

const DEFAULT_FUNCS: Readonly<Record<string, TemplateFunc>> = { ...BUILTINS, ...DOCKER_FUNCS };

/** Docker's header functions: the string functions return their argument unchanged (the header is literal). */
const HEADER_FUNCS: Readonly<Record<string, TemplateFunc>> = Object.fromEntries(Object.keys(DOCKER_FUNCS).map((k) => [k, (v: unknown) => v]));

/**
 * Returns the compiled template `text`; throws TemplateError with Go's message (`template: :LINE: …`) when it does
 * not parse or names a function that does not exist.
 */
export function compileTemplate(text: string, o: TemplateOptions = {}): GoTemplate {
  const funcs = { ...DEFAULT_FUNCS, ...(o.funcs ?? {}) };
  const tree: Tree = parse(text, { name: o.name ?? '', funcs: new Set(Object.keys(funcs)) });
  return { source: text, execute: (data) => execute(tree, data, funcs) };
}

/** Returns the output of template `text` run on `data` (compileTemplate, then execute). */
export function renderTemplate(text: string, data: unknown, o: TemplateOptions = {}): string {
  return compileTemplate(text, o).execute(data);
}

/** Returns whether a docker `--format` value asks for a table (`table` or `table TEMPLATE`). */
export function isTableFormat(format: string): boolean {
  return format === 'table' || format.startsWith('table ');
}

/** Options of formatRows. */
export interface FormatRowsOptions {
  /** The template of a bare `table`, e.g. `{{.Repository}}\t{{.Tag}}` (docker's default for the command). */
  readonly defaultTable: string;
  /** The header row's data: each field the rows have → its column title (e.g. Repository → REPOSITORY). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Returns the rows printed as docker prints a list with `--format`: `json` is one JSON object per line; `table
 * [TEMPLATE]` runs the template on the headers (with docker's header functions), then on each row, and aligns the
 * tab-separated cells as Go's tabwriter (min width 10, padding 3); anything else is the template run on each row,
 * one line per row. Literal `\t` and `\n` in the format become a tab and a newline first, as docker does.
 */
export function formatRows(format: string, rows: readonly unknown[], o: FormatRowsOptions): string {
  if (format === 'json') return rows.map((r) => DEFAULT_FUNCS['json']!(r) + '\n').join('');
  const table = isTableFormat(format);
  let text = table ? format.slice('table'.length).trim() : format;
  if (table && text === '') text = o.defaultTable;
  text = text.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const tmpl = compileTemplate(text);
  const body = rows.map((r) => tmpl.execute(r) + '\n').join('');
  if (!table) return body;
  const header = compileTemplate(text, { funcs: HEADER_FUNCS }).execute(headerMap(o.headers)) + '\n';
  return tabwrite(header + body, { padding: 3, minwidth: 10 });
}

function headerMap(h: Readonly<Record<string, string>>): Record<string, string> {
  const m: Record<string, string> = { ...h };
  Object.defineProperty(m, Symbol.for('tsbuild.go-template.map'), { value: { zero: '' }, enumerable: false });
  return m;
}

/** Returns `e` as a usage error naming the template, for the CLI (`invalid --format template "…": <Go's message>`). */
export function templateUsageError(format: string, e: TemplateError): TemplateError {
  const err = new TemplateError(`invalid --format template ${JSON.stringify(format)}: ${e.message}`);
  err.hint = 'see https://docs.docker.com/config/formatting/ ; fields are listed in the README (tsbuild inspect, images, history)';
  return err;
}
