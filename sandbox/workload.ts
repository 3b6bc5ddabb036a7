import { NsmError } from '../sdk/errors.ts';
import { isObject, type JsonObject } from '../webhook/json-patch.ts';
import { malformedEntry } from '../webhook/pod-shape.ts';

/** The parts of Kubernetes objects the sandbox reads; everything else passes through untouched. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
}

export interface AffinityTerms {
  requiredDuringSchedulingIgnoredDuringExecution?: Array<{ labelSelector?: unknown }>;
}

export interface PodSpec {
  nodeName?: string;
  initContainers?: Container[];
  containers?: Container[];
  volumes?: Array<{
    name: string;
    emptyDir?: object;
    hostPath?: { path: string };
    configMap?: { name: string; defaultMode?: number };
    downwardAPI?: { items?: Array<{ path: string; fieldRef?: { fieldPath: string } }> };
  }>;
  affinity?: { podAffinity?: AffinityTerms; podAntiAffinity?: AffinityTerms };
}

export interface Pod {
  apiVersion: string;
  kind: 'Pod';
  metadata: ObjectMeta & { name: string };
  spec: PodSpec;
}

/** Any document of a manifest file: a Pod, a workload with a pod template, a NetworkService... */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { replicas?: number; template?: { metadata?: ObjectMeta; spec?: PodSpec } } & Record<string, unknown>;
  /** A ConfigMap's entries. */
  data?: Record<string, unknown>;
}

const TEMPLATED = ['Deployment', 'StatefulSet', 'ReplicaSet'];

/**
 * A document as a Manifest, after the webhook's own shape check of the pod it carries (lists of
 * objects, metadata maps as maps), so reading it cannot fail halfway; `where` names it in errors.
 */
export function asManifest(doc: JsonObject, where: string): Manifest {
  const at = doc.kind === 'Pod' ? [] : TEMPLATED.includes(String(doc.kind)) ? ['spec', 'template'] : undefined;
  const carried = at && (at.length === 0 ? doc : (isObject(doc.spec) && isObject(doc.spec.template) ? doc.spec.template : undefined));
  const problem = carried ? malformedEntry(carried, at) : undefined;
  if (problem) throw new NsmError('INVALID_ARGUMENT', `${where}: ${problem}`);
  return doc;
}

/** The pods a document stands for: a Pod, or the replicas of a Deployment/StatefulSet/ReplicaSet. */
export function podsOf(doc: Manifest): Pod[] {
  const name = doc.metadata?.name ?? '';
  if (doc.kind === 'Pod') return [{ apiVersion: 'v1', ...doc, kind: 'Pod', metadata: { ...doc.metadata, name }, spec: (doc.spec ?? {}) as PodSpec }];
  if (!TEMPLATED.includes(doc.kind ?? '')) return [];
  return Array.from({ length: doc.spec?.replicas ?? 1 }, (_, i) => ({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { ...doc.spec?.template?.metadata, name: `${name}-${i}`, namespace: doc.metadata?.namespace },
    spec: doc.spec?.template?.spec ?? {},
  }));
}

export const containersOf = (pod: Pod): Container[] => [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
