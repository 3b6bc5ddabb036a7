import { PSA_ENFORCE_LABEL } from './keys.ts';
import type { NamespaceInfo } from './namespace-info.ts';

export type PsaLevel = 'privileged' | 'baseline' | 'restricted';

/** The namespace's Pod Security Admission enforce level; no label means privileged, as upstream. */
export function psaLevel(ns: NamespaceInfo): PsaLevel {
  const v = ns.labels[PSA_ENFORCE_LABEL]?.trim().toLowerCase();
  return v === 'baseline' || v === 'restricted' ? v : 'privileged';
}
