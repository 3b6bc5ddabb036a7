import { isObject, type AddOperation, type JsonObject } from './json-patch.ts';

interface PlannedAdd {
  path: string;
  last: string;
  value: unknown;
}

interface PlanNode {
  children: Array<[string, PlanNode]>;
  adds: PlannedAdd[];
}

const unescape = (s: string) => s.replaceAll('~1', '/').replaceAll('~0', '~');

/** `a` is a prefix of `b` (or equal to it). */
const startsWith = (b: readonly string[], a: readonly string[]) => a.length <= b.length && a.every((s, i) => b[i] === s);

/**
 * Add operations made (and applied with fast-json-patch) for one pod, compiled to be applied to
 * other pods of the same shape: every container along the operations' paths is copied once, and
 * each operation is done at its copied parent, so the original document is never modified.
 *
 * Only operations whose order does not matter are compiled: none adds at or above a place another
 * one's path goes through, and none inserts before the end of an array (that would move the items
 * after it). `compile` answers undefined for any other list.
 */
export class ReplayPlan {
  readonly #root: PlanNode;

  private constructor(root: PlanNode) {
    this.#root = root;
  }

  static compile(ops: readonly AddOperation[]): ReplayPlan | undefined {
    const split = ops.map((op) => {
      const segments = op.op === 'add' && op.path.startsWith('/') ? op.path.split('/').slice(1).map(unescape) : [];
      return { op, segments, parent: segments.slice(0, -1) };
    });
    for (const a of split) {
      const last = a.segments.at(-1);
      if (last === undefined) return undefined;
      if (/^\d+$/.test(last)) return undefined;
      if (split.some((b) => b !== a && startsWith(b.parent, a.segments))) return undefined;
    }
    const root: PlanNode = { children: [], adds: [] };
    for (const { op, segments, parent } of split) {
      let node = root;
      for (const s of parent) {
        let child = node.children.find(([name]) => name === s)?.[1];
        if (!child) {
          child = { children: [], adds: [] };
          node.children.push([s, child]);
        }
        node = child;
      }
      node.adds.push({ path: op.path, last: segments[segments.length - 1], value: op.value });
    }
    return new ReplayPlan(root);
  }

  /** The document with the operations applied, on a copy; throws when an operation does not apply to it. */
  apply(doc: JsonObject): JsonObject {
    const copy = { ...doc };
    applyAt(this.#root, copy);
    return copy;
  }
}

function childOf(container: JsonObject | unknown[], segment: string): JsonObject | unknown[] {
  const child = Object.hasOwn(container, segment) ? (container as Record<string, unknown>)[segment] : undefined;
  if (typeof child !== 'object' || child === null) throw new Error(`${segment}: no object or array to add into`);
  return child as JsonObject | unknown[];
}

function applyAt(node: PlanNode, target: JsonObject | unknown[]): void {
  for (const [segment, child] of node.children) {
    const original = childOf(target, segment);
    const copy = Array.isArray(original) ? [...original] : { ...original };
    (target as Record<string, unknown>)[segment] = copy;
    applyAt(child, copy);
  }
  addAll(node, target);
}

function addAll(node: PlanNode, target: JsonObject | unknown[]): void {
  for (const add of node.adds) {
    if (Array.isArray(target)) {
      if (add.last !== '-') throw new Error(`${add.path}: only appends are replayed`);
      target.push(add.value);
    } else if (isObject(target)) {
      // Assignment would set the prototype for this one key; defining is slower, so only for it.
      if (add.last === '__proto__') Object.defineProperty(target, add.last, { value: add.value, writable: true, enumerable: true, configurable: true });
      else target[add.last] = add.value;
    }
  }
}
