import { NsUrlError, parseNsUrlList, type NsUrl } from '../proto/nsurl.ts';
import { clientApiDir, partNames, serializedParts } from './containers.ts';
import type { InjectionConfig } from './injection-config.ts';
import { deepFreeze, isObject, PatchBuilder, valueAt, type AddOperation, type JsonObject } from './json-patch.ts';
import { NATIVE_SIDECAR_ANNOTATION, SOCKET_DIR, STATUS_ANNOTATION } from './keys.ts';
import type { NamespaceInfo } from './namespace-info.ts';
import { malformedEntry } from './pod-shape.ts';
import { psaLevel } from './psa.ts';
import { ReplayPlan } from './replay-plan.ts';
import { annotationsOf, selectServices, type SkipReason } from './selection.ts';
import type { BoundedCache } from './bounded-cache.ts';

export const DENY_REASONS = ['invalid-annotation', 'malformed-pod', 'namespace-unknown', 'patch-failed'] as const;
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
      /** `patch` in base64, as the AdmissionResponse carries it. */
      patchBase64: string;
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

/** The cache an `Injector` owns (without it every pod is built afresh). */
export interface InjectionCaches {
  /** Decisions for pods of the same shape (see `fingerprint`), compiled for replay. */
  decisions?: BoundedCache<CachedInjection>;
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
export function injectPod(doc: JsonObject, ns: NamespaceInfo | undefined, config: InjectionConfig, options: InjectOptions = {}, caches: InjectionCaches = {}): Decision {
  const at = options.at ?? [];
  const found = valueAt(doc, at);
  const pod = isObject(found) ? found : {};
  const selection = selectServices(pod, ns, config.annotation, options.fallbackToNamespace ?? true);
  if (selection.kind === 'skip') return selection;
  const malformed = malformedEntry(pod, at);
  if (malformed) return { kind: 'deny', reason: 'malformed-pod', code: 400, message: `${malformed}: fix the pod and create it again` };
  const key = caches.decisions && isObject(found) ? cacheKey(pod, at, ns, selection, config) : '';
  const hit = key !== '' && caches.decisions ? reuse(caches.decisions, key, doc) : undefined;
  if (hit) return hit;
  const ready = readyToBuild(pod, ns, config, selection);
  if ('kind' in ready) return ready;
  try {
    const decision = build(doc, at, pod, ready.ns, config, selection.source, selection.value, ready.urls, ready.native);
    if (caches.decisions && key !== '' && decision.kind === 'inject') remember(caches.decisions, key, decision);
    return decision;
  } catch (err) {
    const problem = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
    return { kind: 'deny', reason: 'patch-failed', code: 500, message: `the injection patch does not apply to this pod (${problem}); please report this with the pod manifest` };
  }
}

type Selected = Extract<ReturnType<typeof selectServices>, { kind: 'inject' }>;

/**
 * The decision cache's key for a pod of a shape seen before: its services value parsed, its
 * namespace was known, no hostNetwork, a valid native-sidecar choice (see `fingerprint`); '' when
 * the pod cannot be served from the cache.
 */
function cacheKey(pod: JsonObject, at: readonly string[], ns: NamespaceInfo | undefined, selection: Selected, config: InjectionConfig): string {
  if (ns === undefined || (isObject(pod.spec) && pod.spec.hostNetwork === true)) return '';
  const native = nativeFor(pod, config);
  return typeof native === 'boolean' ? fingerprint(pod, at, selection.source, selection.value, psaLevel(ns), native, config) : '';
}

/** What the patch is built from, or the decision that stops it (a bad annotation, an unknown namespace, hostNetwork). */
function readyToBuild(pod: JsonObject, ns: NamespaceInfo | undefined, config: InjectionConfig, selection: Selected): Decision | { ns: NamespaceInfo; urls: NsUrl[]; native: boolean } {
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
  if (isObject(pod.spec) && pod.spec.hostNetwork === true) {
    return { kind: 'skip', reason: 'host-network', warning: 'pod uses hostNetwork: network services are not injected into host-network pods' };
  }
  const native = nativeFor(pod, config);
  if (typeof native === 'string') return { kind: 'deny', reason: 'invalid-annotation', code: 400, message: native };
  return { ns, urls, native };
}

function build(
  doc: JsonObject, at: readonly string[], pod: JsonObject, ns: NamespaceInfo, config: InjectionConfig,
  source: 'pod' | 'namespace', services: string, urls: NsUrl[], native: boolean,
): Decision {
  const builder = new PatchBuilder(doc);
  const spec = isObject(pod.spec) ? pod.spec : {};
  const { parts, json } = serializedParts({
    config,
    services,
    urls,
    psa: psaLevel(ns),
    native,
    ...takenNames(spec),
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
  const patch = builder.json;
  return {
    kind: 'inject', get ops() { return builder.ops; }, patch, patchBase64: Buffer.from(patch).toString('base64'), patched: builder.patched, source, native, record,
  };
}

/**
 * What `build` reads from a pod, as a string: two pods with the same fingerprint get the same
 * operations, so a decision made (and applied to a copy) for one is the decision for the other.
 *
 * The argument, following `build` and `PatchBuilder` step by step:
 * - the injected parts depend on the configuration (one cache per configuration object), the services
 *   value (the URLs are parsed from it), the PSA level, native mode, and the names picked by
 *   `uniqueName`, which depend only on the container names (init, app, ephemeral) and volume names
 *   already taken: the picked names are in the fingerprint;
 * - every choice `PatchBuilder` makes is whether a value on an operation's path is an object or an
 *   array (append with `/-` or add whole, and how deep to nest): the fingerprint records that for
 *   spec, spec.initContainers, spec.containers and each of its items, each app container's
 *   volumeMounts, spec.volumes, metadata, metadata.labels and metadata.annotations. Everything along
 *   `at` is an object, since the pod was found there (the cache is not used otherwise);
 * - the paths hold `at` and the app containers' indices (their number is in the fingerprint);
 * - the volumeMounts added to an app container are those whose mountPath (the connections directory,
 *   the socket directory or the client API's directory) it does not mount yet: one flag per path
 *   and container;
 * - the labels added are the configured ones the pod does not have: one flag per configured key;
 * - the status annotation is made of the picked names.
 * Nothing else of the pod is read, so nothing else can change the operations. Only decisions whose
 * operations were built and applied to a copy without error are cached, and the cache is looked up
 * only after the skip rules, with a known namespace, without hostNetwork and with a valid native
 * choice: since the services value is in the fingerprint, a hit means that value parsed before, so a
 * hit cannot pass over a denial or a skip.
 */
function fingerprint(
  pod: JsonObject, at: readonly string[], source: string, services: string, psa: string, native: boolean, config: InjectionConfig,
): string {
  // Strings from the pod carry their length, so no value can pass for a separator.
  let key = `${at.length === 0 ? '' : JSON.stringify(at)}|${source}|${services.length}:${services}|${psa}|${native}`;
  const meta = pod.metadata;
  if (isObject(meta)) {
    const labels = meta.labels;
    key += isObject(labels) ? '|L' : '|-';
    if (isObject(labels)) for (const k in config.labels) key += Object.hasOwn(labels, k) ? '1' : '0';
    key += isObject(meta.annotations) ? '|A' : '|-';
  } else {
    key += '|no-metadata';
  }
  const spec = pod.spec;
  if (!isObject(spec)) return `${key}|no-spec`;
  const containers = spec.containers;
  const apiDir = clientApiDir(config);
  key += Array.isArray(spec.initContainers) ? '|I' : '|-';
  key += Array.isArray(spec.volumes) ? '|V' : '|-';
  if (Array.isArray(containers)) {
    key += '|C';
    for (const c of containers) {
      key += isObject(c) ? mountFlags(c.volumeMounts, config.connectionsDir, apiDir) : 'x';
    }
  } else {
    key += '|-';
  }
  // The names the parts take, not those the pod has: a pod's own names (the service account token
  // volume has a random suffix) matter only through the names they leave for ours.
  const picked = partNames({ config, ...takenNames(spec) });
  for (const name of [picked.init, picked.sidecar, picked.socketVolume, picked.connectionsVolume, picked.podinfoVolume, picked.clientApiVolume]) key += `|${name.length}:${name}`;
  return key;
}

/** Which of the paths the parts mount into app containers (connections, socket, client API) a container's mounts already have, as one digit; `n` when it has no mount list. */
function mountFlags(mounts: unknown, connectionsDir: string, apiDir: string): string {
  if (!Array.isArray(mounts)) return 'n';
  let flags = 0;
  for (const m of mounts) {
    if (!isObject(m)) continue;
    if (m.mountPath === connectionsDir) flags |= 1;
    if (m.mountPath === SOCKET_DIR) flags |= 2;
    if (apiDir !== '' && m.mountPath === apiDir) flags |= 4;
  }
  return String(flags);
}

/** The container and volume names a pod spec already uses. */
function takenNames(spec: JsonObject): { takenContainerNames: Set<string>; takenVolumeNames: Set<string> } {
  return {
    takenContainerNames: new Set([...names(spec.initContainers), ...names(spec.containers), ...names(spec.ephemeralContainers)]),
    takenVolumeNames: new Set(names(spec.volumes)),
  };
}

export interface CachedInjection {
  /** `patch` compiled for replay; its values are frozen, as they are shared by the patched copies of the pods it serves. */
  plan: ReplayPlan;
  patch: string;
  patchBase64: string;
  source: 'pod' | 'namespace';
  native: boolean;
  record: InjectionRecord;
}

/**
 * A cached decision for one pod. Its operations are applied to a copy of this pod here, as every
 * patch is before it is sent; an operation that does not apply throws, and the caller builds the
 * decision afresh.
 */
export class ReusedInjection {
  readonly kind = 'inject';
  readonly patch: string;
  readonly patchBase64: string;
  readonly source: 'pod' | 'namespace';
  readonly native: boolean;
  readonly record: InjectionRecord;
  readonly patched: JsonObject;

  constructor(entry: CachedInjection, doc: JsonObject) {
    this.patch = entry.patch;
    this.patchBase64 = entry.patchBase64;
    this.source = entry.source;
    this.native = entry.native;
    this.record = entry.record;
    this.patched = entry.plan.apply(doc);
  }

  get ops(): AddOperation[] {
    return JSON.parse(this.patch) as AddOperation[];
  }
}

/** The cached decision for `key`, applied to this pod. */
function reuse(decisions: BoundedCache<CachedInjection>, key: string, doc: JsonObject): Decision | undefined {
  const entry = decisions.get(key);
  if (entry === undefined) return undefined;
  try {
    return new ReusedInjection(entry, doc);
  } catch {
    decisions.delete(key);
    return undefined;
  }
}

/**
 * Keeps the decision's text (not its patched copy, which belongs to one pod); the oldest entry makes
 * room. Operations that cannot be replayed independently of their order are not kept.
 */
function remember(decisions: BoundedCache<CachedInjection>, key: string, d: Extract<Decision, { kind: 'inject' }>): void {
  const plan = ReplayPlan.compile(deepFreeze(JSON.parse(d.patch) as AddOperation[]));
  if (plan === undefined) return;
  decisions.set(key, { plan, patch: d.patch, patchBase64: d.patchBase64, source: d.source, native: d.native, record: deepFreeze(structuredClone(d.record)) });
}
