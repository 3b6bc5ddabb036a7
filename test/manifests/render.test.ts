import t from 'tap';
import { Executor } from '../../manifests/render/exec.ts';
import { makeFuncs, toYaml } from '../../manifests/render/funcs.ts';
import { parseTemplate } from '../../manifests/render/parse.ts';
import { floats, strictMaps } from '../../manifests/render/values.ts';

function render(src: string, values: Record<string, unknown> = {}): string {
  const parsed = parseTemplate(src, 'test.yaml');
  const exec = new Executor(parsed.defines, makeFuncs({}));
  const root = { Values: floats(values), Release: { Name: 'rel', Namespace: 'ns' } };
  strictMaps.add(root);
  return exec.run(parsed.nodes, root);
}

t.test('supported features render as Helm renders them', async (t) => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['field', '{{ .Values.a.b }}', { a: { b: 'x' } }, 'x'],
    ['missing key prints empty', '[{{ .Values.nope }}]', {}, '[]'],
    ['null prints empty', '[{{ .Values.n }}]', { n: null }, '[]'],
    ['float from values prints plainly', '{{ .Values.port }}', { port: 8443 }, '8443'],
    ['int literal', '{{ 5 }}', {}, '5'],
    ['bool', '{{ .Values.b }}', { b: false }, 'false'],
    ['trim left and right', 'a  \n  {{- "b" -}}  \n c', {}, 'abc'],
    ['comment', 'a{{/* hidden */}}b{{- /* trimmed */ -}} c', {}, 'abc'],
    ['if/else if/else', '{{ if eq .Values.m "x" }}X{{ else if eq .Values.m "y" }}Y{{ else }}Z{{ end }}', { m: 'y' }, 'Y'],
    ['if on empty map is false', '{{ if .Values.m }}T{{ else }}F{{ end }}', { m: {} }, 'F'],
    ['if on zero is false', '{{ if .Values.z }}T{{ else }}F{{ end }}', { z: 0 }, 'F'],
    ['with sets dot', '{{ with .Values.a }}{{ .b }}{{ end }}', { a: { b: 'in' } }, 'in'],
    ['with else', '{{ with .Values.a }}yes{{ else }}no{{ end }}', { a: '' }, 'no'],
    ['range list with $', '{{ range .Values.l }}{{ . }}{{ $.Release.Name }},{{ end }}', { l: ['a', 'b'] }, 'arel,brel,'],
    ['range index and value', '{{ range $i, $v := .Values.l }}{{ $i }}={{ $v }};{{ end }}', { l: ['a', 'b'] }, '0=a;1=b;'],
    ['range map in key order', '{{ range $k, $v := .Values.m }}{{ $k }}{{ $v }}{{ end }}', { m: { b: '2', a: '1' } }, 'a1b2'],
    ['range else', '{{ range .Values.l }}x{{ else }}empty{{ end }}', { l: [] }, 'empty'],
    ['variables and assignment', '{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}', {}, 'b'],
    ['declaration inside if is scoped', '{{ $x := "a" }}{{ if true }}{{ $x := "b" }}{{ end }}{{ $x }}', {}, 'a'],
    ['quote', '{{ .Values.s | quote }} {{ quote .Values.n }}', { s: 'a"b\\c', n: 5 }, '"a\\"b\\\\c" "5"'],
    ['default', '{{ .Values.x | default "d" }} {{ .Values.y | default "d" }}', { x: '', y: 'v' }, 'd v'],
    ['printf', '{{ printf "%s-%d-%v-%%" .Values.s 3 .Values.p }}', { s: 'a', p: 80 }, 'a-3-80-%'],
    ['and/or return values', '{{ or .Values.a "b" }} {{ and "x" .Values.c }}', { a: '', c: 'c' }, 'b c'],
    ['not and ne', '{{ not .Values.a }} {{ ne "a" "b" }}', { a: '' }, 'true true'],
    ['eq with several', '{{ eq "b" "a" "b" }}', {}, 'true'],
    ['index into map and list', '{{ index .Values.m "a.b" }} {{ index .Values.l 1 }}', { m: { 'a.b': 'v' }, l: ['x', 'y'] }, 'v y'],
    ['join', '{{ join "," .Values.l }}', { l: ['A=1', 'B=2'] }, 'A=1,B=2'],
    ['list', '{{ join "+" (list "a" "b") }}', {}, 'a+b'],
    ['b64enc', '{{ b64enc "hi" }}', {}, 'aGk='],
    ['nindent and indent', 'k:{{ .Values.s | nindent 2 }}|{{ indent 1 "x" }}', { s: 'a\nb' }, 'k:\n  a\n  b| x'],
    ['toYaml', '{{ toYaml .Values.m }}', { m: { b: [1, 'yes'], a: 'on' } }, 'a: "on"\nb:\n- 1\n- "yes"'],
    ['parenthesised field access', '{{ (index .Values.l 0).n }}', { l: [{ n: 'first' }] }, 'first'],
    ['raw string', '{{ `a"b` }}', {}, 'a"b'],
    ['escapes in strings', '{{ "a\\"b\\\\c\\tz" }}', {}, 'a"b\\c\tz'],
    ['range with one variable', '{{ range $v := .Values.l }}{{ $v }}{{ end }}', { l: ['a'] }, 'a'],
    ['range over nothing', '{{ range .Values.nope }}x{{ end }}', {}, ''],
    ['function as an argument', '{{ not list }}', {}, 'true'],
    ['missing value is false', '{{ if .Values.nope }}T{{ else }}F{{ end }}', {}, 'F'],
    ['int literal zero is false', '{{ if 0 }}T{{ else }}F{{ end }}', {}, 'F'],
    ['quote of bool and int', '{{ quote true 5 }}', {}, '"true" "5"'],
    ['printf %v of an int', '{{ printf "%v" 7 }}', {}, '7'],
    ['eq of two floats', '{{ eq .Values.a .Values.b }}', { a: 1, b: 1 }, 'true'],
    ['join of nothing', '[{{ join "," .Values.nope }}]', {}, '[]'],
    ['dot alone', '{{ with "x" }}{{ . }}{{ end }}', {}, 'x'],
    ['define and include', '{{- define "x" }}<{{ .v }}>{{ end -}}{{ include "x" .Values }}', { v: 1 }, '<1>'],
  ];
  for (const [name, src, values, want] of cases) t.equal(render(src, values), want, name);
});

t.test('anything outside the subset fails with a clear error', async (t) => {
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ['template action', '{{ template "x" . }}', {}, /template.*not supported/],
    ['block', '{{ block "x" . }}{{ end }}', {}, /block.*not supported/],
    ['break', '{{ range .Values.l }}{{ break }}{{ end }}', { l: [1] }, /break.*not supported/],
    ['else with', '{{ with .Values.a }}{{ else with .Values.b }}{{ end }}', {}, /only 'else' and 'else if'/],
    ['unknown function', '{{ upper "a" }}', {}, /function "upper" is not supported/],
    ['unknown built-in object', '{{ .Capabilities.KubeVersion }}', {}, /Capabilities is not supported/],
    ['unsupported printf verb', '{{ printf "%x" 5 }}', {}, /%x is not supported/],
    ['%d of a value from values (float64)', '{{ printf "%d" .Values.p }}', { p: 1 }, /expects an int, got a float64/],
    ['genCA with days from values', '{{ genCA "x" .Values.d }}', { d: 10 }, /expects an int, got a float64/],
    ['printing a map', '{{ .Values.m }}', { m: { a: 1 } }, /use toYaml/],
    ['number that Go prints in exponent form', '{{ .Values.n }}', { n: 1000000 }, /exponent form/],
    ['field of a missing value', '{{ .Values.a.b }}', {}, /nil pointer evaluating .b/],
    ['undefined variable', '{{ $nope }}', {}, /undefined variable \$nope/],
    ['assignment to undeclared variable', '{{ $x = 1 }}', {}, /undefined variable \$x/],
    ['eq of different types', '{{ eq .Values.p 5 }}', { p: 5 }, /incompatible types/],
    ['eq with nil', '{{ eq .Values.nope "x" }}', {}, /incompatible types/],
    ['missing end', '{{ if true }}x', {}, /without matching \{\{end\}\}/],
    ['stray end', 'x{{ end }}', {}, /unexpected \{\{end\}\}/],
    ['include of an unknown template', '{{ include "nope" . }}', {}, /no template "nope"/],
    ['arguments to a field', '{{ .Values.a "x" }}', {}, /non-function/],
    ['newline inside a string', '{{ "a\nb" }}', {}, /newline in string/],
    ['unsupported string escape', '{{ "\\u0041" }}', {}, /unsupported escape/],
    ['quote of non-ASCII', '{{ quote "é" }}', {}, /printable ASCII/],
    ['define inside a block', '{{ if true }}{{ define "x" }}{{ end }}{{ end }}', {}, /top level/],
    ['comment not filling the action', '{{/* a */ .x }}', {}, /comment must fill/],
    ['unclosed comment', '{{/* a }}', {}, /unclosed comment/],
    ['unclosed action', '{{ .a ', {}, /unclosed action/],
    ['bad field name', '{{ .Values.-a }}', {}, /bad field name/],
    ['lone minus', '{{ - }}', {}, /unsupported number syntax/],
    ['arithmetic', '{{ .a + 1 }}', {}, /unsupported character '\+'/],
    ['two variables outside range', '{{ $a, $b := list }}', {}, /only as 'range/],
    ['stray closing parenthesis', '{{ .a ) }}', {}, /unexpected '\)'/],
    ['pipe without command', '{{ | quote }}', {}, /missing command before/],
    ['unclosed parenthesis', '{{ (quote "a" }}', {}, /unclosed '\('/],
    ['empty action', '{{ }}', {}, /empty command/],
    ['empty parentheses', '{{ () }}', {}, /empty command/],
    ['field after pipe', '{{ quote "a" | .b }}', {}, /only functions may follow/],
    ['keyword as an argument', '{{ quote if }}', {}, /keyword 'if' is not supported here/],
    ['operator as an argument', '{{ quote = }}', {}, /unexpected '='/],
    ['junk after end', '{{ if true }}{{ end x }}', {}, /junk after 'end'/],
    ['with else without end', '{{ with .a }}{{ else }}', {}, /with\}\} without matching/],
    ['range without end', '{{ range .a }}', {}, /range\}\} without matching/],
    ['if else without end', '{{ if true }}{{ else }}', {}, /if\}\} without matching/],
    ['define without a string name', '{{ define x }}{{ end }}', {}, /define needs one string name/],
    ['define without end', '{{ define "x" }}', {}, /define without matching/],
    ['define twice', '{{ define "x" }}{{ end }}{{ define "x" }}{{ end }}', {}, /defined twice/],
    ['field of a certificate that does not exist', '{{ (genCA "c" 1).Nope }}', {}, /can't evaluate field Nope/],
    ['field of null', '{{ .Values.n.x }}', { n: null }, /nil pointer evaluating .x/],
    ['field of a string', '{{ .Values.s.x }}', { s: 'a' }, /can't evaluate field x in type string/],
    ['recursive include', '{{- define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}', {}, /nested too deeply/],
    ['range over a string', '{{ range .Values.s }}{{ end }}', { s: 'ab' }, /can't iterate over string/],
    ['and without arguments', '{{ and }}', {}, /needs at least one argument/],
    ['include with a bad name', '{{ include 5 . }}', {}, /include needs a name and a value/],
    ['non-template error inside a function', '{{ genCA "c" 0 }}', {}, /error calling genCA: daysValid must be a positive integer/],
    ['string function given a number', '{{ b64enc 5 }}', {}, /b64enc expects a string, got number/],
    ['string function given nil', '{{ b64enc nil }}', {}, /b64enc expects a string, got nil/],
    ['int function given a string', '{{ indent "a" "b" }}', {}, /indent expects an int, got a/],
    ['printf %v of a nil literal', '{{ printf "%v" nil }}', {}, /printf %v of a nil value/],
    ['printf %v of a list', '{{ printf "%v" (list) }}', {}, /printf %v of a value of type object/],
    ['printf %v of nil', '{{ printf "%v" .Values.nope }}', {}, /printf %v of a nil value/],
    ['eq with one argument', '{{ eq "a" }}', {}, /at least two arguments/],
    ['printf missing argument', '{{ printf "%s" }}', {}, /missing argument/],
    ['printf extra argument', '{{ printf "a" "b" }}', {}, /too many arguments/],
    ['toYaml of a certificate', '{{ toYaml (list (genCA "c" 1)) }}', {}, /toYaml of a certificate/],
    ['join of a string', '{{ join "," "a" }}', {}, /join expects a list/],
    ['index into a string', '{{ index "abc" 1 }}', {}, /neither a list nor a map/],
    ['printing a list', '{{ .Values.l }}', { l: [1] }, /printing a list directly/],
    ['printing a certificate', '{{ genCA "c" 1 }}', {}, /printing a map or object directly/],
    ['bad IP for genSignedCert', '{{ genSignedCert "x" (list "300.1.1.1") nil 1 (genCA "c" 1) }}', {}, /invalid IP address/],
    ['lookup of a list', '{{ lookup "v1" "Secret" "ns" "" }}', {}, /empty name/],
  ];
  for (const [name, src, values, err] of cases) t.throws(() => render(src, values), err, name);
});

t.test('lookup returns what the cluster has, or an empty map', async (t) => {
  const parsed = parseTemplate('{{ $s := lookup "v1" "Secret" "ns" "a" }}{{ if $s }}{{ index $s.data "k" }}{{ else }}none{{ end }}', 't');
  const secret = { apiVersion: 'v1', kind: 'Secret', data: { k: 'dmFs' } };
  const found = new Executor(parsed.defines, makeFuncs({ lookup: (_v, _k, _ns, name) => (name === 'a' ? secret : undefined) }));
  t.equal(found.run(parsed.nodes, {}), 'dmFs');
  t.equal(new Executor(parsed.defines, makeFuncs({})).run(parsed.nodes, {}), 'none');
});

t.test('toYaml drops the final newline and unwraps numbers', async (t) => {
  t.equal(toYaml(floats({ a: 1 })), 'a: 1');
  t.equal(toYaml(null), 'null');
  t.equal(toYaml({}), '{}');
});
