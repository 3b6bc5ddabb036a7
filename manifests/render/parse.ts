// Parser for the subset of Go text/template that the nsm chart uses.
// Anything outside the subset is rejected with a TemplateError naming the file and line, so an
// unsupported construct fails loudly instead of rendering differently from Helm.

import { TemplateError } from './values.ts';

export { TemplateError };

export type Operand =
  | { k: 'field'; path: string[] } // `.a.b`; path [] is the dot itself
  | { k: 'var'; name: string; path: string[] } // `$x.a`; name '$' is the root
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: 'func'; name: string }
  | { k: 'sub'; pipe: Pipe; path: string[] }; // `( pipeline ).a`

export interface Cmd {
  args: Operand[];
}

export interface Pipe {
  decl?: { vars: string[]; assign: boolean };
  cmds: Cmd[];
  pos: string;
}

export type Node =
  | { t: 'text'; text: string }
  | { t: 'out'; pipe: Pipe }
  | { t: 'if'; branches: { pipe: Pipe; body: Node[] }[]; otherwise: Node[] | undefined }
  | { t: 'with'; pipe: Pipe; body: Node[]; otherwise: Node[] | undefined }
  | { t: 'range'; pipe: Pipe; body: Node[]; otherwise: Node[] | undefined };

export interface Parsed {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

type Item = { kind: 'text'; text: string } | { kind: 'action'; body: string; pos: string };

const SPACE = /[ \t\r\n]/;

function isSpace(c: string | undefined): boolean {
  return c !== undefined && SPACE.test(c);
}

function lineAt(src: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (src[i] === '\n') line++;
  return line;
}

/** Splits source text into text and action items, applying `{{- ` and ` -}}` trimming. */
function split(src: string, file: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) items.push({ kind: 'text', text });
      break;
    }
    const pos = `${file}:${lineAt(src, open)}`;
    let start = open + 2;
    if (src[start] === '-' && isSpace(src[start + 1])) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    if (text) items.push({ kind: 'text', text });
    const close = findClose(src, start, pos);
    let end = close;
    if (src[close - 1] === '-' && isSpace(src[close - 2])) {
      trimNext = true;
      end = close - 2;
    }
    const body = src.slice(start, end).trim();
    if (body.startsWith('/*')) {
      if (!body.endsWith('*/')) throw new TemplateError(`${pos}: comment must fill the whole action`);
    } else {
      items.push({ kind: 'action', body, pos });
    }
    i = close + 2;
  }
  return items;
}

function findClose(src: string, from: number, pos: string): number {
  let i = from;
  if (src.slice(i).trimStart().startsWith('/*')) {
    const endComment = src.indexOf('*/', i);
    if (endComment < 0) throw new TemplateError(`${pos}: unclosed comment`);
    i = endComment + 2;
  }
  while (i < src.length) {
    const c = src[i];
    if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (c === '"' && src[j] === '\\') j++;
        if (src[j] === '\n') throw new TemplateError(`${pos}: newline in string`);
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === '}' && src[i + 1] === '}') return i;
    i++;
  }
  throw new TemplateError(`${pos}: unclosed action`);
}

type Tok =
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'ident'; v: string }
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'punct'; v: '(' | ')' | '|' | ',' | ':=' | '=' };

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /-?[0-9]+(\.[0-9]+)?/y;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };

function readPath(s: string, i: number, pos: string): { path: string[]; next: number } {
  const path: string[] = [];
  while (s[i] === '.') {
    IDENT.lastIndex = i + 1;
    const m = IDENT.exec(s);
    if (!m) {
      if (path.length === 0 && /^[\s)|,]?$/.test(s.charAt(i + 1))) return { path, next: i + 1 };
      throw new TemplateError(`${pos}: bad field name after '.'`);
    }
    path.push(m[0]);
    i = IDENT.lastIndex;
  }
  return { path, next: i };
}

function lex(s: string, pos: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charAt(i);
    if (isSpace(c)) {
      i++;
    } else if (c === '"') {
      let v = '';
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\') {
          const e = ESCAPES[s.charAt(j + 1)];
          if (e === undefined) throw new TemplateError(`${pos}: unsupported escape \\${s[j + 1]} in string`);
          v += e;
          j++;
        } else v += s[j];
      }
      toks.push({ k: 'str', v });
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      toks.push({ k: 'str', v: s.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '(' || c === ')' || c === '|' || c === ',') {
      toks.push({ k: 'punct', v: c });
      i++;
      if (c === ')' && s[i] === '.') {
        const r = readPath(s, i, pos);
        toks.push({ k: 'field', path: r.path });
        i = r.next;
      }
    } else if (c === ':' && s[i + 1] === '=') {
      toks.push({ k: 'punct', v: ':=' });
      i += 2;
    } else if (c === '=') {
      toks.push({ k: 'punct', v: '=' });
      i++;
    } else if (c === '$') {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(s);
      const name = m ? `$${m[0]}` : '$';
      const r = readPath(s, m ? IDENT.lastIndex : i + 1, pos);
      toks.push({ k: 'var', name, path: r.path });
      i = r.next;
    } else if (c === '.') {
      const r = readPath(s, i, pos);
      toks.push({ k: 'field', path: r.path });
      i = r.next;
    } else if (/[0-9-]/.test(c)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(s);
      if (!m) throw new TemplateError(`${pos}: unsupported number syntax near '${s.slice(i, i + 8)}'`);
      toks.push({ k: 'num', v: Number(m[0]) });
      i = NUMBER.lastIndex;
    } else {
      IDENT.lastIndex = i;
      const m = IDENT.exec(s);
      if (!m) throw new TemplateError(`${pos}: unsupported character '${c}'`);
      toks.push({ k: 'ident', v: m[0] });
      i = IDENT.lastIndex;
    }
  }
  return toks;
}

const UNSUPPORTED_KEYWORDS = new Set(['template', 'block', 'break', 'continue']);

function parsePipe(toks: Tok[], pos: string, allowDecl: 'one' | 'two'): Pipe {
  let rest = toks;
  let decl: Pipe['decl'];
  const t0 = toks[0];
  const t1 = toks[1];
  if (t0?.k === 'var' && t0.path.length === 0 && t1?.k === 'punct' && (t1.v === ':=' || t1.v === '=')) {
    decl = { vars: [t0.name], assign: t1.v === '=' };
    rest = toks.slice(2);
  } else if (t0?.k === 'var' && t1?.k === 'punct' && t1.v === ',') {
    const t2 = toks[2];
    const t3 = toks[3];
    if (allowDecl !== 'two' || t2?.k !== 'var' || t3?.k !== 'punct' || t3.v !== ':=') {
      throw new TemplateError(`${pos}: two-variable declarations are supported only as 'range $i, $v :='`);
    }
    decl = { vars: [t0.name, t2.name], assign: false };
    rest = toks.slice(4);
  }
  const state = { i: 0 };
  const pipe = parseCmds(rest, state, pos);
  if (state.i !== rest.length) throw new TemplateError(`${pos}: unexpected ')'`);
  return decl ? { ...pipe, decl } : pipe;
}

function parseCmds(toks: Tok[], state: { i: number }, pos: string): Pipe {
  const cmds: Cmd[] = [];
  let args: Operand[] = [];
  while (state.i < toks.length) {
    const t = toks[state.i] as Tok;
    if (t.k === 'punct' && t.v === ')') break;
    state.i++;
    if (t.k === 'punct' && t.v === '|') {
      if (args.length === 0) throw new TemplateError(`${pos}: missing command before '|'`);
      cmds.push({ args });
      args = [];
      continue;
    }
    if (t.k === 'punct' && t.v === '(') {
      const sub = parseCmds(toks, state, pos);
      const closing = toks[state.i];
      if (closing?.k !== 'punct' || closing.v !== ')') throw new TemplateError(`${pos}: unclosed '('`);
      state.i++;
      const after = toks[state.i];
      let path: string[] = [];
      if (after?.k === 'field' && after.path.length > 0) {
        path = after.path;
        state.i++;
      }
      args.push({ k: 'sub', pipe: sub, path });
      continue;
    }
    args.push(operand(t, pos));
  }
  if (args.length === 0) throw new TemplateError(`${pos}: empty command`);
  cmds.push({ args });
  for (const [n, cmd] of cmds.entries()) {
    const [first, ...others] = cmd.args;
    if (first?.k !== 'func' && others.length > 0) {
      throw new TemplateError(`${pos}: can't give arguments to a non-function`);
    }
    if (n > 0 && first?.k !== 'func') throw new TemplateError(`${pos}: only functions may follow '|'`);
  }
  return { cmds, pos };
}

function operand(t: Tok, pos: string): Operand {
  switch (t.k) {
    case 'str':
      return { k: 'str', v: t.v };
    case 'num':
      return { k: 'num', v: t.v };
    case 'field':
      return { k: 'field', path: t.path };
    case 'var':
      return { k: 'var', name: t.name, path: t.path };
    case 'ident':
      if (t.v === 'true' || t.v === 'false') return { k: 'bool', v: t.v === 'true' };
      if (t.v === 'nil') return { k: 'nil' };
      if (UNSUPPORTED_KEYWORDS.has(t.v) || ['if', 'else', 'end', 'range', 'with', 'define'].includes(t.v)) {
        throw new TemplateError(`${pos}: keyword '${t.v}' is not supported here`);
      }
      return { k: 'func', name: t.v };
    case 'punct':
      throw new TemplateError(`${pos}: unexpected '${t.v}'`);
  }
}

type Stop =
  | { end: 'eof' }
  | { end: 'end'; pos: string }
  | { end: 'else'; pos: string }
  | { end: 'elseif'; pipe: Pipe; pos: string };

class Parser {
  readonly defines = new Map<string, Node[]>();
  private i = 0;
  private readonly items: Item[];

  constructor(items: Item[]) {
    this.items = items;
  }

  top(): Node[] {
    const r = this.list(true);
    if (r.stop.end !== 'eof') throw new TemplateError(`${r.stop.pos}: unexpected {{${r.stop.end}}}`);
    return r.nodes;
  }

  private list(top: boolean): { nodes: Node[]; stop: Stop } {
    const nodes: Node[] = [];
    while (this.i < this.items.length) {
      const item = this.items[this.i++] as Item;
      if (item.kind === 'text') {
        nodes.push({ t: 'text', text: item.text });
        continue;
      }
      const toks = lex(item.body, item.pos);
      const head = toks[0];
      const kw = head?.k === 'ident' ? head.v : undefined;
      if (kw === 'end') {
        if (toks.length > 1) throw new TemplateError(`${item.pos}: junk after 'end'`);
        return { nodes, stop: { end: 'end', pos: item.pos } };
      }
      if (kw === 'else') {
        const next = toks[1];
        if (next === undefined) return { nodes, stop: { end: 'else', pos: item.pos } };
        if (next.k === 'ident' && next.v === 'if') {
          return { nodes, stop: { end: 'elseif', pipe: parsePipe(toks.slice(2), item.pos, 'one'), pos: item.pos } };
        }
        throw new TemplateError(`${item.pos}: only 'else' and 'else if' are supported`);
      }
      if (kw === 'if') {
        nodes.push(this.ifNode(parsePipe(toks.slice(1), item.pos, 'one'), item.pos));
      } else if (kw === 'with' || kw === 'range') {
        const pipe = parsePipe(toks.slice(1), item.pos, kw === 'range' ? 'two' : 'one');
        const body = this.list(false);
        let otherwise: Node[] | undefined;
        if (body.stop.end === 'else') {
          const rest = this.list(false);
          if (rest.stop.end !== 'end') throw new TemplateError(`${item.pos}: {{${kw}}} without matching {{end}}`);
          otherwise = rest.nodes;
        } else if (body.stop.end !== 'end') {
          throw new TemplateError(`${item.pos}: {{${kw}}} without matching {{end}}`);
        }
        nodes.push({ t: kw, pipe, body: body.nodes, otherwise });
      } else if (kw === 'define') {
        const name = toks[1];
        if (!top) throw new TemplateError(`${item.pos}: define is only allowed at the top level`);
        if (name?.k !== 'str' || toks.length !== 2) throw new TemplateError(`${item.pos}: define needs one string name`);
        const body = this.list(false);
        if (body.stop.end !== 'end') throw new TemplateError(`${item.pos}: define without matching {{end}}`);
        if (this.defines.has(name.v)) throw new TemplateError(`${item.pos}: template "${name.v}" defined twice`);
        this.defines.set(name.v, body.nodes);
      } else if (kw !== undefined && UNSUPPORTED_KEYWORDS.has(kw)) {
        throw new TemplateError(`${item.pos}: {{${kw}}} is not supported; use include`);
      } else {
        nodes.push({ t: 'out', pipe: parsePipe(toks, item.pos, 'one') });
      }
    }
    return { nodes, stop: { end: 'eof' } };
  }

  private ifNode(first: Pipe, pos: string): Node {
    const branches: { pipe: Pipe; body: Node[] }[] = [];
    let pipe = first;
    for (;;) {
      const body = this.list(false);
      branches.push({ pipe, body: body.nodes });
      if (body.stop.end === 'elseif') {
        pipe = body.stop.pipe;
        continue;
      }
      if (body.stop.end === 'end') return { t: 'if', branches, otherwise: undefined };
      if (body.stop.end === 'else') {
        const rest = this.list(false);
        if (rest.stop.end !== 'end') throw new TemplateError(`${pos}: {{if}} without matching {{end}}`);
        return { t: 'if', branches, otherwise: rest.nodes };
      }
      throw new TemplateError(`${pos}: {{if}} without matching {{end}}`);
    }
  }
}

export function parseTemplate(src: string, file: string): Parsed {
  const parser = new Parser(split(src, file));
  const nodes = parser.top();
  return { nodes, defines: parser.defines };
}
