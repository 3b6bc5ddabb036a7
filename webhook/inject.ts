import { NsUrlError, parseNsUrlList, type NsUrl } from '../proto/nsurl.ts';
import { cachedParts } from './containers.ts';
import type { InjectionConfig } from './injection-config.ts';
import { isObject, PatchBuilder, valueAt, type AddOperation, type JsonObject } from './json-patch.ts';
import { NATIVE_SIDECAR_ANNOTATION, STATUS_ANNOTATION } from './keys.ts';
import type { NamespaceInfo } from './namespace-info.ts';
import { psaLevel } from './psa.ts';
import { annotationsOf, selectServices, type SkipReason } from './selection.ts';

export const DENY_REASONS = ['invalid-annotation', 'namespace-unknown', 'patch-failed'] as const;
export type DenyReason = (typeof DENY_REASONS)[number];

/** What the webhook put into a pod; stored as JSON in the status annotation. */
export interface InjectionRecord {
  initContainers: string[];
  containers: string[];
  volumes: string[];
}

export type Decision =
  | { kind: 'skip'; reason: SkipReason; warning?: string }
  | { kind: 'deny'; reason: DenyReason; code: number; message: string }
  | {
      kind: 'inject';
      ops: AddOperation[];
      /** `ops` as the JSON text sent to the API server. */
      patch: string;
      /** The whole document with `ops` applied. */
      patched: JsonObject;
      source: 'pod' | 'namespace';
      native: boolean;
      record: InjectionRecord;
    };

export interface InjectOptions {
  /** Where the pod (or pod template) sits in the document: [] for a Pod, ['spec','template'] for a Deployment. */
  at?: readonly string[];
  /** Pods fall back to the namespace's annotation; workload templates in offline injection do as well. */
  fallbackToNamespace?: boolean;
}

const names = (list: unknown): string[] =>
  Array.isArray(list) ? list.flatMap((c) => (isObject(c) && typeof c.name === 'string' ? [c.name] : [])) : [];

function nativeFor(pod: JsonObject, config: InjectionConfig): boolean | string {
  const v = annotationsOf(pod.metadata)[NATIVE_SIDECAR_ANNOTATION];
  if (v === undefined) return config.nativeSidecar;
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (s === 'true') return true;
  if (s === 'false') return false;
  return `annotation ${NATIVE_SIDECAR_ANNOTATION} must be "true" or "false", not ${JSON.stringify(v)}`;
}

/**
 * The injection as a pure function: a pod (or a document holding a pod template), its namespace and
 * the configuration in; append-only JSON Patch operations (already applied once to a copy), a skip
 * reason or a denial out.
 */
export function injectPod(doc: JsonObject, ns: NamespaceInfo | undefined, config: InjectionConfig, options: InjectOptions = {}): Decision {
  const at = options.at ?? [];
  const found = valueAt(doc, at);
  const pod = isObject(found) ? found : {};
  const selection = selectServices(pod, ns, config.annotation, options.fallbackToNamespace ?? true);
  if (selection.kind === 'skip') return selection;
  const where = selection.source === 'pod' ? 'the pod' : `namespace ${ns?.name ?? ''}`;
  let urls: NsUrl[];
  try {
    urls = parseNsUrlList(selection.value);
  } catch (err) {
    if (!(err instanceof NsUrlError)) throw err;
    return { kind: 'deny', reason: 'invalid-annotation', code: 400, message: `annotation ${config.annotation} of ${where}: ${err.message}` };
  }
  if (ns === undefined) {
    return {
      kind: 'deny',
      reason: 'namespace-unknown',
      code: 503,
      message: 'the namespace of this pod is not in the webhook cache yet, so its Pod Security level is unknown; retry in a moment',
    };
  }
  const spec = isObject(pod.spec) ? pod.spec : {};
  if (spec.hostNetwork === true) {
    return { kind: 'skip', reason: 'host-network', warning: 'pod uses hostNetwork: network services are not injected into host-network pods' };
  }
  const native = nativeFor(pod, config);
  if (typeof native === 'string') return { kind: 'deny', reason: 'invalid-annotation', code: 400, message: native };

  try {
    return build(doc, at, pod, ns, config, selection.source, selection.value, urls, native);
  } catch (err) {
    const problem = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
    return { kind: 'deny', reason: 'patch-failed', code: 500, message: `the injection patch does not apply to this pod (${problem}); please report this with the pod manifest` };
  }
}

function build(
  doc: JsonObject, at: readonly string[], pod: JsonObject, ns: NamespaceInfo, config: InjectionConfig,
  source: 'pod' | 'namespace', services: string, urls: NsUrl[], native: boolean,
): Decision {
  const builder = new PatchBuilder(doc);
  const spec = isObject(pod.spec) ? pod.spec : {};
  const { parts, json } = cachedParts({
    config,
    services,
    urls,
    psa: psaLevel(ns),
    native,
    takenContainerNames: new Set([...names(spec.initContainers), ...names(spec.containers), ...names(spec.ephemeralContainers)]),
    takenVolumeNames: new Set(names(spec.volumes)),
  });
  const specAt = [...at, 'spec'];
  builder.append([...specAt, 'initContainers'], parts.initContainers, json.initContainers);
  const appContainers = Array.isArray(spec.containers) ? spec.containers : [];
  appContainers.forEach((c, i) => {
    const mounts = isObject(c) && Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
    const missing = parts.appMounts.filter((a) => !mounts.some((m) => isObject(m) && m.mountPath === a.mountPath));
    builder.append([...specAt, 'containers', i, 'volumeMounts'], missing.map((a) => ({ ...a })));
  });
  builder.append([...specAt, 'containers'], parts.containers, json.containers);
  builder.append([...specAt, 'volumes'], parts.volumes, json.volumes);

  const labels = isObject(pod.metadata) && isObject(pod.metadata.labels) ? pod.metadata.labels : {};
  builder.setEntries([...at, 'metadata', 'labels'], Object.fromEntries(Object.entries(config.labels).filter(([k]) => !Object.hasOwn(labels, k))));
  const record: InjectionRecord = {
    initContainers: names(parts.initContainers),
    containers: names(parts.containers),
    volumes: names(parts.volumes),
  };
  builder.setEntries([...at, 'metadata', 'annotations'], { [STATUS_ANNOTATION]: JSON.stringify(record) });
  return { kind: 'inject', get ops() { return builder.ops; }, patch: builder.json, patched: builder.patched, source, native, record };
}
