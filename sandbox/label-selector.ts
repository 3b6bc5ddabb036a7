// Evaluates a Kubernetes LabelSelector against a label set, as the API server does (all
// requirements ANDed; an empty selector matches everything).

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const inValues = has && (e.values ?? []).includes(value);
    const ok =
      e.operator === 'In' ? inValues : e.operator === 'NotIn' ? !inValues : e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

/** A selector with at least one requirement (an empty one would select every pod). */
export function isSelector(s: unknown): s is LabelSelector {
  if (typeof s !== 'object' || s === null) return false;
  const { matchLabels, matchExpressions } = s as LabelSelector;
  return Object.keys(matchLabels ?? {}).length > 0 || (Array.isArray(matchExpressions) && matchExpressions.length > 0);
}
