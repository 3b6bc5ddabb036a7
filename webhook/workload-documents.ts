import { parseAllDocuments } from 'yaml';
import { NsmError } from '../sdk/errors.ts';
import { injectPod, type Decision } from './inject.ts';
import type { InjectionConfig } from './injection-config.ts';
import { isObject, type JsonObject } from './json-patch.ts';
import { emptyNamespace, type NamespaceInfo } from './namespace-info.ts';

const TEMPLATE = ['spec', 'template'];

/** Every non-empty YAML (or JSON) document of the text, in order. */
export function parseDocuments(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  return docs.flatMap((d, i) => {
    if (d.errors.length > 0) throw new NsmError('INVALID_ARGUMENT', `${source}: document ${i + 1} is not valid YAML: ${d.errors[0].message}`);
    const v: unknown = d.toJS();
    return v === null || v === undefined ? [] : [v];
  });
}

/** Where the pod spec sits in an object of this kind, or undefined for kinds that hold no pod. */
export function podPath(obj: JsonObject): string[] | undefined {
  const group = typeof obj.apiVersion === 'string' && obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
  switch (`${group}/${String(obj.kind)}`) {
    case '/Pod':
      return [];
    case '/ReplicationController':
    case 'apps/Deployment':
    case 'apps/StatefulSet':
    case 'apps/DaemonSet':
    case 'apps/ReplicaSet':
    case 'batch/Job':
      return TEMPLATE;
    case 'batch/CronJob':
      return ['spec', 'jobTemplate', 'spec', 'template'];
    default:
      return undefined;
  }
}

export interface ManifestResult {
  object: unknown;
  /** One entry per pod or pod template found, in document order. */
  decisions: Array<{ object: string; decision: Decision }>;
}

const describe = (obj: JsonObject): string => {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? `${meta.generateName}*` : '(unnamed)';
  return `${String(obj.kind)} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${name}`;
};

/**
 * Injects one manifest object offline: Pods and the pod templates of workloads (Lists recursively);
 * other objects come back unchanged. `namespaceOf` supplies labels and annotations of namespaces.
 */
export function injectManifest(obj: unknown, namespaceOf: (name: string | undefined) => NamespaceInfo | undefined, config: InjectionConfig): ManifestResult {
  if (!isObject(obj)) return { object: obj, decisions: [] };
  if (obj.kind === 'List' || (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items))) {
    const decisions: ManifestResult['decisions'] = [];
    const items = (Array.isArray(obj.items) ? obj.items : []).map((item) => {
      const r = injectManifest(item, namespaceOf, config);
      decisions.push(...r.decisions);
      return r.object;
    });
    return { object: { ...obj, items }, decisions };
  }
  const at = podPath(obj);
  if (at === undefined) return { object: obj, decisions: [] };
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const namespace = namespaceOf(typeof meta.namespace === 'string' ? meta.namespace : undefined) ?? emptyNamespace();
  const decision = injectPod(obj, namespace, config, { at });
  return { object: decision.kind === 'inject' ? decision.patched : obj, decisions: [{ object: describe(obj), decision }] };
}
