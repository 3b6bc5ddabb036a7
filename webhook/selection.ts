import { isObject, type JsonObject } from './json-patch.ts';
import { INJECT_LABEL, OPT_OUT_ANNOTATION, STATUS_ANNOTATION } from './keys.ts';
import type { NamespaceInfo } from './namespace-info.ts';

export const SKIP_REASONS = [
  'already-injected',
  'opted-out',
  'empty-annotation',
  'not-annotated',
  'namespace-without-services',
  'namespace-unknown',
  'host-network',
  'not-a-pod-create',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type Selection =
  | { kind: 'inject'; value: string; source: 'pod' | 'namespace' }
  | { kind: 'skip'; reason: SkipReason; warning?: string };

const FALSE = new Set(['false', 'no', 'off', 'disabled']);

export function annotationsOf(meta: unknown): Record<string, unknown> {
  return isObject(meta) && isObject(meta.annotations) ? meta.annotations : {};
}

/**
 * Rules in order: an injected pod is never injected again; `networkservicemesh.io/inject: "false"`
 * opts out; the pod's own annotation wins (an empty value opts out of the namespace's); then the
 * namespace's annotation (upstream fallback, with or without the inject label).
 * `ns` undefined means the namespace is not known (yet).
 */
export function selectServices(pod: JsonObject, ns: NamespaceInfo | undefined, key: string, fallbackToNamespace: boolean): Selection {
  const annotations = annotationsOf(pod.metadata);
  if (typeof annotations[STATUS_ANNOTATION] === 'string') return { kind: 'skip', reason: 'already-injected' };
  const optOut = annotations[OPT_OUT_ANNOTATION];
  if (typeof optOut === 'string' && FALSE.has(optOut.trim().toLowerCase())) return { kind: 'skip', reason: 'opted-out' };
  const own = annotations[key];
  if (typeof own === 'string') {
    return own.trim() === '' ? { kind: 'skip', reason: 'empty-annotation' } : { kind: 'inject', value: own.trim(), source: 'pod' };
  }
  if (!fallbackToNamespace) return { kind: 'skip', reason: 'not-annotated' };
  if (ns === undefined) return { kind: 'skip', reason: 'namespace-unknown' };
  const inherited = ns.annotations[key];
  if (inherited !== undefined && inherited.trim() !== '') return { kind: 'inject', value: inherited.trim(), source: 'namespace' };
  if (ns.labels[INJECT_LABEL] === 'enabled') {
    return {
      kind: 'skip',
      reason: 'namespace-without-services',
      warning: `namespace ${ns.name} has ${INJECT_LABEL}=enabled but no ${key} annotation naming the network services; nothing injected`,
    };
  }
  return { kind: 'skip', reason: 'not-annotated' };
}
