import { isObject, type JsonObject } from './json-patch.ts';

/**
 * The lists of a pod spec that the injection reads or appends to, and what each entry must be. The
 * API server refuses such a pod anyway; the webhook says which entry is wrong instead of failing to
 * build its patch.
 */
const POD_LISTS: ReadonlyArray<[string, string]> = [
  ['initContainers', 'a container'],
  ['containers', 'a container'],
  ['ephemeralContainers', 'an ephemeral container'],
  ['volumes', 'a volume'],
];
const CONTAINER_LISTS: ReadonlyArray<[string, string]> = [
  ['env', 'an env var (name and value)'],
  ['volumeMounts', 'a volume mount'],
];

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The first entry that is not an object under `list` of `obj`, as `<path>[i] is a number, not a container`. */
function badEntry(obj: JsonObject, list: string, what: string, path: string): string | undefined {
  if (!(list in obj) || obj[list] === undefined) return undefined;
  const items = obj[list];
  if (!Array.isArray(items)) return `${path}.${list} is ${kindOf(items)}, not a list`;
  const i = items.findIndex((item) => !isObject(item));
  return i < 0 ? undefined : `${path}.${list}[${i}] is ${kindOf(items[i])}, not ${what}`;
}

/**
 * What is malformed in the pod at `at` (its place in its document, e.g. spec.template), named by
 * path, or undefined when its metadata maps are maps and its lists hold objects only.
 */
export function malformedEntry(pod: JsonObject, at: readonly string[]): string | undefined {
  return malformedMetadata(pod, at) ?? malformedSpec(pod, at);
}

/** The maps the injection adds keys to (labels, the status annotation) must be maps. */
function malformedMetadata(pod: JsonObject, at: readonly string[]): string | undefined {
  const path = [...at, 'metadata'].join('.');
  const meta = pod.metadata;
  if (meta === undefined) return undefined;
  if (!isObject(meta)) return `${path} is ${kindOf(meta)}, not object metadata`;
  for (const map of ['labels', 'annotations']) {
    const v = meta[map];
    if (v !== undefined && !isObject(v)) return `${path}.${map} is ${kindOf(v)}, not a map of ${map}`;
  }
  return undefined;
}

function malformedSpec(pod: JsonObject, at: readonly string[]): string | undefined {
  const spec = pod.spec;
  const path = [...at, 'spec'].join('.');
  if (spec === undefined) return undefined;
  if (!isObject(spec)) return `${path} is ${kindOf(spec)}, not a pod spec`;
  for (const [list, what] of POD_LISTS) {
    const bad = badEntry(spec, list, what, path);
    if (bad) return bad;
  }
  for (const list of ['initContainers', 'containers']) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    for (const [i, c] of containers.entries()) {
      for (const [inner, what] of CONTAINER_LISTS) {
        const bad = badEntry(c as JsonObject, inner, what, `${path}.${list}[${i}]`);
        if (bad) return bad;
      }
    }
  }
  return undefined;
}
