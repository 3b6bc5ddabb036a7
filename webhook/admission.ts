import type { DenyReason } from './inject.ts';
import type { Injector } from './injector.ts';
import { isObject, type JsonObject } from './json-patch.ts';
import type { NamespaceInfo } from './namespace-info.ts';
import type { SkipReason } from './selection.ts';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  subResource?: string;
  operation?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string };
  warnings?: string[];
}

export type Outcome =
  | { decision: 'injected'; source: 'pod' | 'namespace'; native: boolean }
  | { decision: 'skipped'; reason: SkipReason }
  | { decision: 'denied'; reason: DenyReason; message: string };

export interface Reviewed {
  response: AdmissionResponse;
  outcome: Outcome;
  /** For logs: never the pod itself. */
  pod: { namespace: string; name?: string; generateName?: string };
}

export type NamespaceLookup = (name: string) => NamespaceInfo | undefined;

const isPodCreate = (r: AdmissionRequest) =>
  r.operation === 'CREATE' && r.kind?.kind === 'Pod' && (r.kind.group ?? '') === '' && !r.subResource && isObject(r.object);

/** One AdmissionReview request in, its response out: pods at CREATE are injected, everything else passes. */
export function reviewAdmission(request: AdmissionRequest, namespaceOf: NamespaceLookup, injector: Injector): Reviewed {
  const object = isObject(request.object) ? request.object : {};
  const meta = isObject(object.metadata) ? object.metadata : {};
  const namespace = request.namespace || (typeof meta.namespace === 'string' ? meta.namespace : '');
  const pod: Reviewed['pod'] = { namespace };
  const name = request.name || meta.name;
  if (typeof name === 'string' && name !== '') pod.name = name;
  if (typeof meta.generateName === 'string') pod.generateName = meta.generateName;
  const uid = request.uid;
  if (!isPodCreate(request)) {
    return { response: { uid, allowed: true }, outcome: { decision: 'skipped', reason: 'not-a-pod-create' }, pod };
  }
  const decision = injector.inject(object, namespaceOf(namespace));
  switch (decision.kind) {
    case 'skip': {
      const response: AdmissionResponse = { uid, allowed: true };
      if (decision.warning) response.warnings = [decision.warning];
      return { response, outcome: { decision: 'skipped', reason: decision.reason }, pod };
    }
    case 'deny':
      return {
        response: { uid, allowed: false, status: { code: decision.code, message: decision.message } },
        outcome: { decision: 'denied', reason: decision.reason, message: decision.message },
        pod,
      };
    case 'inject':
      return {
        response: { uid, allowed: true, patchType: 'JSONPatch', patch: decision.patchBase64 },
        outcome: { decision: 'injected', source: decision.source, native: decision.native },
        pod,
      };
  }
}

export function admissionReview(response: AdmissionResponse): JsonObject {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
