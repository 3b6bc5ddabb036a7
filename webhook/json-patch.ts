import jsonpatch from 'fast-json-patch';

export type JsonObject = Record<string, unknown>;
export interface AddOperation {
  op: 'add';
  path: string;
  value: unknown;
}

/** Freezes a JSON value and everything in it, for values shared between requests. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 6901: `~` becomes `~0` before `/` becomes `~1`. */
export function escapePointerSegment(segment: string | number): string {
  const s = String(segment);
  return s.includes('~') || s.includes('/') ? s.replaceAll('~', '~0').replaceAll('/', '~1') : s;
}

export function pointer(segments: ReadonlyArray<string | number>): string {
  return segments.map((s) => `/${escapePointerSegment(s)}`).join('');
}

export function valueAt(doc: unknown, segments: ReadonlyArray<string | number>): unknown {
  let at: unknown = doc;
  for (const s of segments) {
    if (Array.isArray(at) && typeof s === 'number') at = at[s];
    else if (isObject(at) && typeof s === 'string' && Object.hasOwn(at, s)) at = at[s];
    else return undefined;
  }
  return at;
}

/**
 * Builds append-only `add` operations and applies each one, as it is made, to a copy of the document:
 * later operations see what earlier ones created, and an operation that would not apply throws here
 * instead of reaching the API server. The copy is made along each operation's path only (untouched
 * subtrees are shared with the original, which is never modified). Each operation is serialised
 * when it is made, so applying later operations cannot change what earlier ones say.
 */
export class PatchBuilder {
  readonly #serialized: string[] = [];
  readonly #copied = new Set<object>();
  #doc: JsonObject;

  constructor(original: JsonObject) {
    this.#doc = { ...original };
    this.#copied.add(this.#doc);
  }

  /** The document with every operation so far applied. */
  get patched(): JsonObject {
    return this.#doc;
  }

  /** The operations so far, as a JSON array (what the AdmissionResponse carries). */
  get json(): string {
    return `[${this.#serialized.join(',')}]`;
  }

  get ops(): AddOperation[] {
    return JSON.parse(this.json) as AddOperation[];
  }

  get(segments: ReadonlyArray<string | number>): unknown {
    return valueAt(this.#doc, segments);
  }

  /**
   * Appends with `/-` when the array exists; otherwise adds the array whole (creating missing
   * parents). `serialized`, when given, is `items` already as JSON text, one string per item.
   */
  append(segments: ReadonlyArray<string | number>, items: readonly unknown[], serialized?: readonly string[]): void {
    if (items.length === 0) return;
    if (Array.isArray(this.get(segments))) {
      items.forEach((item, i) => this.#add(segments, '-', item, serialized?.[i]));
    } else {
      this.#addNested(segments, [...items], serialized && `[${serialized.join(',')}]`);
    }
  }

  /** Adds map entries one key at a time when the map exists; otherwise adds the map whole. */
  setEntries(segments: ReadonlyArray<string>, entries: Readonly<Record<string, unknown>>): void {
    const keys = Object.keys(entries);
    if (keys.length === 0) return;
    if (isObject(this.get(segments))) {
      for (const k of keys) this.#add(segments, k, entries[k]);
    } else {
      this.#addNested(segments, { ...entries });
    }
  }

  #addNested(segments: ReadonlyArray<string | number>, value: unknown, valueJson?: string): void {
    let depth = segments.length;
    while (depth > 1 && !isObject(this.get(segments.slice(0, depth - 1)))) depth--;
    let wrapped = value;
    let wrappedJson = valueJson;
    for (let i = segments.length - 1; i >= depth; i--) {
      wrapped = { [segments[i]]: wrapped };
      if (wrappedJson !== undefined) wrappedJson = `{${JSON.stringify(String(segments[i]))}:${wrappedJson}}`;
    }
    this.#add(segments.slice(0, depth - 1), segments[depth - 1], wrapped, wrappedJson);
  }

  /** Copies the containers along `parent` so that applying the operation leaves the original alone. */
  #copyPath(parent: ReadonlyArray<string | number>): void {
    let at: unknown = this.#doc;
    for (const s of parent) {
      if (!isObject(at) && !Array.isArray(at)) return;
      const container = at as Record<string | number, unknown>;
      if (!Object.hasOwn(container, s)) return;
      const child = container[s];
      if (typeof child !== 'object' || child === null) return;
      if (!this.#copied.has(child)) {
        const copy: object = Array.isArray(child) ? [...(child as unknown[])] : { ...child };
        this.#copied.add(copy);
        container[s] = copy;
      }
      at = container[s];
    }
  }

  #add(parent: ReadonlyArray<string | number>, last: string | number, value: unknown, valueJson?: string): void {
    const op: AddOperation = { op: 'add', path: `${pointer(parent)}/${escapePointerSegment(last)}`, value };
    this.#serialized.push(valueJson === undefined ? JSON.stringify(op) : `{"op":"add","path":${JSON.stringify(op.path)},"value":${valueJson}}`);
    this.#copyPath(parent);
    jsonpatch.applyOperation(this.#doc, op, false, true, false);
  }
}
