import { isObject } from './json-patch.ts';

/** The part of a Namespace the injection reads. */
export interface NamespaceInfo {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

const stringMap = (v: unknown): Record<string, string> => {
  if (!isObject(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};

export function namespaceInfo(obj: unknown): NamespaceInfo {
  const meta = isObject(obj) && isObject(obj.metadata) ? obj.metadata : {};
  return {
    name: typeof meta.name === 'string' ? meta.name : '',
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
  };
}

export const emptyNamespace = (name = ''): NamespaceInfo => ({ name, labels: {}, annotations: {} });
