// Executes parsed templates with Go text/template semantics as Helm configures them
// (a missing map key prints as the empty string; a field of a missing value is an error).

import type { Node, Operand, Pipe } from './parse.ts';
import { Struct, TemplateError, isMap, printValue, strictMaps, truth, type Func } from './values.ts';

class Scope {
  private readonly vars = new Map<string, unknown>();
  private readonly parent: Scope | undefined;

  constructor(parent?: Scope) {
    this.parent = parent;
  }

  declare(name: string, v: unknown): void {
    this.vars.set(name, v);
  }

  assign(name: string, v: unknown, pos: string): void {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.vars.has(name)) {
        s.vars.set(name, v);
        return;
      }
    }
    throw new TemplateError(`${pos}: undefined variable ${name}`);
  }

  get(name: string, pos: string): unknown {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.vars.has(name)) return s.vars.get(name);
    }
    throw new TemplateError(`${pos}: undefined variable ${name}`);
  }
}

function field(v: unknown, name: string, pos: string): unknown {
  if (v instanceof Struct) {
    if (!(name in v.fields)) throw new TemplateError(`${pos}: can't evaluate field ${name}`);
    return v.fields[name];
  }
  if (isMap(v)) {
    if (Object.hasOwn(v, name)) return v[name];
    if (strictMaps.has(v)) throw new TemplateError(`${pos}: .${name} is not supported by this renderer`);
    return undefined;
  }
  if (v === undefined || v === null) throw new TemplateError(`${pos}: nil pointer evaluating .${name}`);
  throw new TemplateError(`${pos}: can't evaluate field ${name} in type ${typeof v}`);
}

export class Executor {
  private readonly defines: Map<string, Node[]>;
  private readonly funcs: Record<string, Func>;
  private depth = 0;

  constructor(defines: Map<string, Node[]>, funcs: Record<string, Func>) {
    this.defines = defines;
    this.funcs = funcs;
  }

  /** Runs nodes with `dot` as both `.` and `$`, as Go does for a template invocation. */
  run(nodes: Node[], dot: unknown): string {
    const scope = new Scope();
    scope.declare('$', dot);
    const out: string[] = [];
    this.walk(nodes, dot, scope, out);
    return out.join('');
  }

  include(name: string, dot: unknown, pos: string): string {
    const nodes = this.defines.get(name);
    if (!nodes) throw new TemplateError(`${pos}: no template "${name}"`);
    if (++this.depth > 100) throw new TemplateError(`${pos}: include nested too deeply in "${name}"`);
    try {
      return this.run(nodes, dot);
    } finally {
      this.depth--;
    }
  }

  private walk(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
    for (const node of nodes) {
      switch (node.t) {
        case 'text':
          out.push(node.text);
          break;
        case 'out': {
          const v = this.pipe(node.pipe, dot, scope);
          if (!node.pipe.decl) {
            try {
              out.push(printValue(v));
            } catch (err) {
              throw new TemplateError(`${node.pipe.pos}: ${(err as Error).message}`);
            }
          }
          break;
        }
        case 'if': {
          const inner = new Scope(scope);
          const hit = node.branches.find((b) => truth(this.pipe(b.pipe, dot, inner)));
          if (hit) this.walk(hit.body, dot, inner, out);
          else if (node.otherwise) this.walk(node.otherwise, dot, inner, out);
          break;
        }
        case 'with': {
          const inner = new Scope(scope);
          const v = this.pipe(node.pipe, dot, inner);
          if (truth(v)) this.walk(node.body, v, inner, out);
          else if (node.otherwise) this.walk(node.otherwise, dot, inner, out);
          break;
        }
        case 'range':
          this.range(node, dot, scope, out);
          break;
      }
    }
  }

  private range(node: Extract<Node, { t: 'range' }>, dot: unknown, scope: Scope, out: string[]): void {
    const inner = new Scope(scope);
    const decl = node.pipe.decl;
    const v = this.pipe({ cmds: node.pipe.cmds, pos: node.pipe.pos }, dot, inner);
    let entries: [unknown, unknown][];
    if (Array.isArray(v)) entries = v.map((e, i) => [i, e]);
    else if (isMap(v)) entries = Object.keys(v).sort().map((k) => [k, v[k]]);
    else if (v === undefined || v === null) entries = [];
    else throw new TemplateError(`${node.pipe.pos}: range can't iterate over ${typeof v}`);
    if (entries.length === 0) {
      if (node.otherwise) this.walk(node.otherwise, dot, inner, out);
      return;
    }
    for (const [key, elem] of entries) {
      const iter = new Scope(inner);
      if (decl?.vars.length === 1) iter.declare(decl.vars[0] as string, elem);
      if (decl?.vars.length === 2) {
        iter.declare(decl.vars[0] as string, key);
        iter.declare(decl.vars[1] as string, elem);
      }
      this.walk(node.body, elem, iter, out);
    }
  }

  private pipe(p: Pipe, dot: unknown, scope: Scope): unknown {
    let prev: { v: unknown } | undefined;
    for (const cmd of p.cmds) {
      const [head, ...rest] = cmd.args as [Operand, ...Operand[]];
      if (head.k === 'func') {
        prev = { v: this.call(head.name, rest, prev, dot, scope, p.pos) };
      } else {
        prev = { v: this.operand(head, dot, scope, p.pos) };
      }
    }
    const v = prev?.v;
    if (p.decl) {
      const name = p.decl.vars[0] as string;
      if (p.decl.assign) scope.assign(name, v, p.pos);
      else scope.declare(name, v);
    }
    return v;
  }

  private operand(o: Operand, dot: unknown, scope: Scope, pos: string): unknown {
    switch (o.k) {
      case 'str':
      case 'num':
      case 'bool':
        return o.v;
      case 'nil':
        return null;
      case 'field':
        return o.path.reduce((v, name) => field(v, name, pos), dot);
      case 'var':
        return o.path.reduce((v, name) => field(v, name, pos), scope.get(o.name, pos));
      case 'sub':
        return o.path.reduce((v, name) => field(v, name, pos), this.pipe(o.pipe, dot, scope));
      case 'func':
        return this.call(o.name, [], undefined, dot, scope, pos);
    }
  }

  private call(name: string, args: Operand[], prev: { v: unknown } | undefined, dot: unknown, scope: Scope, pos: string): unknown {
    const values = (function* (self: Executor): Generator<unknown> {
      for (const a of args) yield self.operand(a, dot, scope, pos);
      if (prev) yield prev.v;
    })(this);
    if (name === 'and' || name === 'or') {
      let last: unknown;
      let n = 0;
      for (const v of values) {
        n++;
        last = v;
        if (truth(v) === (name === 'or')) return v;
      }
      if (n < 1) throw new TemplateError(`${pos}: ${name} needs at least one argument`);
      return last;
    }
    const all = [...values];
    if (name === 'include') {
      if (all.length !== 2 || typeof all[0] !== 'string') throw new TemplateError(`${pos}: include needs a name and a value`);
      return this.include(all[0], all[1], pos);
    }
    const f = this.funcs[name];
    if (!f) throw new TemplateError(`${pos}: function "${name}" is not supported by this renderer`);
    try {
      return f(...all);
    } catch (err) {
      if (err instanceof TemplateError) throw new TemplateError(`${pos}: ${err.message}`);
      throw new TemplateError(`${pos}: error calling ${name}: ${(err as Error).message}`);
    }
  }
}
