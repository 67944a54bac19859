/**
 * cli/go-template on its own: the parts of Go's text/template and docker's list formatting that the podman
 * comparison cannot reach (`$` per element, docker's `table`/`json` list formats and header row, nil values, map
 * versus struct fields, and the parse errors), each expectation as Go and docker print it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateError, compileTemplate, formatRows, goMap, goNil, goStruct, marshalJson, renderTemplate } from '../../cli/api.js';

test('dot, $ and variables; with and range scope them; assignment reaches the outer variable', () => {
  const data = goStruct({ Name: 'n', List: ['a', 'b', 'c'], M: goMap({ k2: 2, k1: 1 }) }, []);
  assert.equal(renderTemplate('{{range .List}}{{.}}{{$.Name}}{{end}}', data), 'anbncn');
  assert.equal(renderTemplate('{{$v := "x"}}{{range .List}}{{$v = .}}{{end}}{{$v}}', data), 'c');
  assert.equal(renderTemplate('{{range $k, $v := .M}}{{$k}}={{$v}} {{end}}', data), 'k1=1 k2=2 ');
  assert.equal(renderTemplate('{{with $x := .Name}}{{$x}}{{.}}{{end}}', data), 'nn');
  assert.equal(renderTemplate('{{range $i, $_ := .List}}{{if eq $i 1}}{{break}}{{end}}{{$i}}{{end}}', data), '0');
  assert.throws(() => renderTemplate('{{range .List}}{{$y := 1}}{{end}}{{$y}}', data), /undefined variable: \$y/);
});

test('printing: nil slices and maps as [] and map[], missing map keys as <no value>, structs in braces', () => {
  const data = goStruct({ S: goNil([]), M: goNil(goMap({})), P: null, St: goStruct({ A: 1, B: 'x' }, []), Map: goMap({ a: 'b' }, '') }, []);
  assert.equal(renderTemplate('{{.S}} {{.M}} {{.P}} {{.St}} {{.Map.zz}} [{{index .Map "zz"}}] {{len .S}}', data), '[] map[] <nil> {1 x} <no value> [] 0');
  assert.equal(renderTemplate('{{json .S}} {{json .M}} {{json .P}} {{json .St}}', data), 'null null null {"A":1,"B":"x"}');
  assert.throws(() => renderTemplate('{{.P.X}}', data), /nil pointer evaluating/);
  assert.throws(() => renderTemplate('{{.St.C}}', data), /executing "" at <\.St\.C>: map has no entry for key "C"/);
  assert.equal(marshalJson(goStruct({ a: '', b: 0, c: goNil([]), d: 'x' }, ['a', 'b', 'c'])), '{"d":"x"}', 'omitempty');
  assert.equal(marshalJson({ h: '<&>' }, { escapeHtml: true }), '{"h":"\\u003c\\u0026\\u003e"}');
  assert.equal(marshalJson(goMap({ b: 1, a: [1, 2] }), { indent: '  ' }), '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}');
});

test('define, template and block (podman wraps templates in a range, so it cannot check these)', () => {
  assert.equal(renderTemplate('{{define "T"}}[{{.}}]{{end}}{{template "T" .Os}}{{template "T" "lit"}}', { Os: 'linux' }), '[linux][lit]');
  assert.equal(renderTemplate('{{block "B" .A}}<{{.}}>{{end}}!', { A: 'a' }), '<a>!');
  assert.throws(() => renderTemplate('{{template "nope"}}', {}), /no such template "nope"/);
});

test('whitespace trimming and comments', () => {
  assert.equal(renderTemplate('a  {{- "b" -}}  \n c', {}), 'abc');
  assert.equal(renderTemplate('x {{/* gone */}} y', {}), 'x  y');
  assert.equal(renderTemplate('x {{- /* gone */ -}} y', {}), 'xy');
  assert.equal(renderTemplate('{{-3}} {{- -3}}', {}), '-3-3', 'a dash not followed by a space is a number');
});

test('parse errors are Go\'s messages, with the line', () => {
  const cases: [string, RegExp][] = [
    ['{{.A', /^template: :1: unclosed action$/],
    ['a\n{{if .A}}', /^template: :2: unexpected EOF$/],
    ['{{else}}', /unexpected \{\{else\}\}/],
    ['{{nope 1}}', /^template: :1: function "nope" not defined$/],
    ['{{"abc}}', /unterminated quoted string/],
    ['{{(.A}}', /unclosed left paren/],
    ['{{break}}', /\{\{break\}\} outside \{\{range\}\}/],
    ['{{/* x }}', /unclosed comment/],
  ];
  for (const [t, re] of cases) {
    assert.throws(() => compileTemplate(t), (e: unknown) => e instanceof TemplateError && re.test((e as Error).message), t);
  }
});

test('docker list formats: table with its header row and tabwriter columns, json lines, plain templates, \\t escapes', () => {
  const rows = [goStruct({ Repository: 'alpine', Tag: '3', Size: '7.8MB' }, [], { sortedJson: true }), goStruct({ Repository: 'me/a-long-name', Tag: 'latest', Size: '1kB' }, [], { sortedJson: true })];
  const o = { defaultTable: '{{.Repository}}\t{{.Tag}}', headers: { Repository: 'REPOSITORY', Tag: 'TAG', Size: 'SIZE' } };
  assert.equal(formatRows('table', rows, o), 'REPOSITORY       TAG\nalpine           3\nme/a-long-name   latest\n');
  assert.equal(formatRows('table {{.Tag}}\\t{{.Size}}', rows, o), 'TAG       SIZE\n3         7.8MB\nlatest    1kB\n', 'min width 10 (padding included), padding 3');
  assert.equal(formatRows('table {{upper .Tag}}', rows, o), 'TAG\n3\nLATEST\n', 'header functions leave the title alone');
  assert.equal(formatRows('{{.Repository}}:{{.Tag}}', rows, o), 'alpine:3\nme/a-long-name:latest\n');
  assert.equal(formatRows('json', rows, o), '{"Repository":"alpine","Size":"7.8MB","Tag":"3"}\n{"Repository":"me/a-long-name","Size":"1kB","Tag":"latest"}\n');
  assert.equal(formatRows('{{json .}}', rows.slice(0, 1), o), '{"Repository":"alpine","Size":"7.8MB","Tag":"3"}\n');
});

test('functions check their arguments as Go does', () => {
  assert.throws(() => renderTemplate('{{upper 1}}', {}), /wrong type for value; expected string; got int/);
  assert.throws(() => renderTemplate('{{index .L 5}}', { L: [1] }), /index out of range: 5/);
  assert.throws(() => renderTemplate('{{eq .L 1}}', { L: [1] }), /non-comparable type/);
  assert.throws(() => renderTemplate('{{lt 1 "a"}}', {}), /incompatible types for comparison/);
  assert.throws(() => renderTemplate('{{.A 1}}', { A: 1 }), /A is not a method but has arguments/);
  assert.equal(renderTemplate('{{printf "%5.1f|%-4d|%03d|%x|%X|%o|%e" 3.14159 7 7 "hi" 255 8 1234.5}}', {}), '  3.1|7   |007|6869|FF|10|1.234500e+03');
});

test('identifiers: ASCII letters, digits and _ and any Unicode letter or number, as Go; other characters end one', () => {
  const data = goMap({ Größe: 1, a_1: 2, 'x٣': 3, ab: 4 });
  assert.equal(renderTemplate('{{.Größe}} {{.a_1}} {{.x٣}} {{$v := .ab}}{{$v}}', data), '1 2 3 4');
  assert.equal(renderTemplate('{{.ab}}-{{.ab}}+{{.ab}}', data), '4-4+4');
  assert.throws(() => renderTemplate('{{.a€}}', data), TemplateError);
  assert.throws(() => renderTemplate('{{.a😀}}', data), TemplateError);
});
