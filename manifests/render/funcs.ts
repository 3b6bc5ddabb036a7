// The Go template, Sprig and Helm functions the chart uses, with their Go semantics.
// `and`, `or` and `include` are built into the executor.

import { stringify } from 'yaml';
import { Float, Struct, TemplateError, floats, formatNumberOrThrow, isMap, plain, truth, type Func } from './values.ts';
import { createCertificate } from './x509.ts';

export type Lookup = (apiVersion: string, kind: string, namespace: string, name: string) => Record<string, unknown> | undefined;

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw new TemplateError(`${fn} expects a string, got ${v === null ? 'nil' : typeof v}`);
  return v;
}

/** A Go int argument: template int literals only (a number from values is a float64 in Helm). */
function int(v: unknown, fn: string): number {
  if (v instanceof Float) throw new TemplateError(`${fn} expects an int, got a float64 from values`);
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TemplateError(`${fn} expects an int, got ${String(v)}`);
  return v;
}

/** Sprig's strval: strings as they are, numbers and booleans as Go %v prints them. */
function strval(v: unknown, fn: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return String(v);
  if (v instanceof Float) return formatNumberOrThrow(v.v);
  throw new TemplateError(`${fn} of ${v === null || v === undefined ? 'a nil value' : `a value of type ${typeof v}`} is not supported`);
}

function comparable(a: unknown, b: unknown, fn: string): void {
  const kind = (x: unknown): string => (x instanceof Float ? 'float64' : typeof x === 'number' ? 'int' : typeof x);
  const ok = (x: unknown): boolean => ['string', 'int', 'float64', 'boolean'].includes(kind(x));
  if (!ok(a) || !ok(b) || kind(a) !== kind(b)) {
    throw new TemplateError(`${fn}: incompatible types for comparison (${kind(a)}, ${kind(b)})`);
  }
}

function eq(first: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new TemplateError('eq needs at least two arguments');
  const v = (x: unknown): unknown => (x instanceof Float ? x.v : x);
  return rest.some((r) => {
    comparable(first, r, 'eq');
    return v(first) === v(r);
  });
}

/** Sprig's quote: each non-nil argument through strval and Go %q, joined by spaces. */
function quote(...args: unknown[]): string {
  return args
    .filter((a) => a !== undefined && a !== null)
    .map((a) => {
      const s = strval(a, 'quote');
      if (!/^[\x20-\x7e]*$/.test(s)) throw new TemplateError('quote supports printable ASCII only');
      return `"${s.replace(/[\\"]/g, '\\$&')}"`;
    })
    .join(' ');
}

function indent(n: unknown, s: unknown): string {
  const pad = ' '.repeat(int(n, 'indent'));
  return pad + str(s, 'indent').replaceAll('\n', `\n${pad}`);
}

/** Go fmt.Sprintf limited to %s (strings), %d (integers), %v (scalars) and %%. */
function printf(format: unknown, ...args: unknown[]): string {
  let n = 0;
  const out = str(format, 'printf').replace(/%(.)/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) throw new TemplateError('printf: missing argument');
    const a = args[n++];
    if (verb === 's') return str(a, 'printf %s');
    if (verb === 'd') return String(int(a, 'printf %d'));
    if (verb === 'v') return strval(a, 'printf %v');
    throw new TemplateError(`printf verb %${verb} is not supported`);
  });
  if (n !== args.length) throw new TemplateError('printf: too many arguments');
  return out;
}

/** Helm's toYaml: YAML without the final newline. */
export function toYaml(v: unknown): string {
  const walk = (x: unknown): void => {
    if (x instanceof Struct) throw new TemplateError('toYaml of a certificate value is not supported');
    if (Array.isArray(x)) x.forEach(walk);
    else if (isMap(x)) Object.values(x).forEach(walk);
  };
  walk(v);
  const text = stringify(plain(v) ?? null, { version: '1.1', sortMapEntries: true, indentSeq: false, lineWidth: 0 });
  return text.replace(/\n$/, '');
}

function stringList(v: unknown, fn: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new TemplateError(`${fn} expects a list`);
  return v.map((e) => str(e, fn));
}

export interface FuncOptions {
  lookup?: Lookup;
  now?: Date;
}

export function makeFuncs(opts: FuncOptions): Record<string, Func> {
  return {
    eq,
    ne: (a, b) => !eq(a, b),
    not: (v) => !truth(v),
    default: (d, ...given) => (given.length === 0 || !truth(given[0]) ? d : given[0]),
    quote,
    printf,
    indent,
    nindent: (n, s) => `\n${indent(n, s)}`,
    toYaml,
    join: (sep, list) => stringList(list, 'join').join(str(sep, 'join')),
    list: (...items) => items,
    index: (coll, ...keys) =>
      keys.reduce((c, k) => {
        if (Array.isArray(c)) return c[int(k, 'index')];
        if (isMap(c)) return c[str(k, 'index')];
        throw new TemplateError('index of a value that is neither a list nor a map');
      }, coll),
    b64enc: (s) => Buffer.from(str(s, 'b64enc'), 'utf8').toString('base64'),
    lookup: (apiVersion, kind, namespace, name) => {
      const n = str(name, 'lookup');
      if (n === '') throw new TemplateError('lookup of a list (empty name) is not supported');
      const found = opts.lookup?.(str(apiVersion, 'lookup'), str(kind, 'lookup'), str(namespace, 'lookup'), n);
      return found ? (floats(structuredClone(found)) as Record<string, unknown>) : {};
    },
    genCA: (cn, days) => {
      const name = str(cn, 'genCA');
      const ca = createCertificate({ cn: name, days: int(days, 'genCA'), isCA: true, now: opts.now });
      return new Struct({ Cert: ca.cert, Key: ca.key }, { cn: name, keyObject: ca.keyObject, publicDer: ca.publicDer });
    },
    genSignedCert: (cn, ips, alternateNames, days, ca) => {
      if (!(ca instanceof Struct) || !ca.issuer) throw new TemplateError('genSignedCert needs a CA made by genCA');
      const leaf = createCertificate({
        cn: str(cn, 'genSignedCert'),
        ips: stringList(ips, 'genSignedCert'),
        dnsNames: stringList(alternateNames, 'genSignedCert'),
        days: int(days, 'genSignedCert'),
        isCA: false,
        issuer: ca.issuer,
        now: opts.now,
      });
      return new Struct({ Cert: leaf.cert, Key: leaf.key });
    },
  };
}
