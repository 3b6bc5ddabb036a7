import type { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';

type Labels = Readonly<Record<string, string>>;

function isSubset(want: Labels, have: Labels): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Upstream selectors are Go templates over the connection labels; `{{.key}}` is the form in use. */
export function renderSelector(selector: Labels, labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(selector)) out[k] = v.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, key: string) => labels[key] ?? '');
  return out;
}

/** Find semantics for services: empty query fields are wildcards. */
export function serviceMatchesQuery(query: RegistryNetworkService, ns: RegistryNetworkService): boolean {
  return (query.name === '' || query.name === ns.name) && (query.payload === '' || query.payload === ns.payload);
}

/** Find semantics for endpoints: empty fields are wildcards, labels a subset, url a substring. */
export function endpointMatchesQuery(query: NetworkServiceEndpoint, nse: NetworkServiceEndpoint): boolean {
  if (query.name !== '' && query.name !== nse.name) return false;
  if (!query.networkServiceNames.every((n) => nse.networkServiceNames.includes(n))) return false;
  for (const [service, want] of Object.entries(query.networkServiceLabels)) {
    if (!isSubset(want.labels, nse.networkServiceLabels[service]?.labels ?? {})) return false;
  }
  return query.url === '' || nse.url.includes(query.url);
}

export function isExpired(nse: NetworkServiceEndpoint, now: Date): boolean {
  return nse.expirationTime !== undefined && nse.expirationTime.getTime() <= now.getTime();
}

/**
 * The endpoints of `ns` a connection with `labels` may use (upstream MatchEndpoint): no matches →
 * every endpoint of the service; otherwise the first match whose source selector fits the labels
 * and whose routes find endpoints, going on to the next match only when `fallthrough` is set.
 */
export function selectEndpoints(ns: RegistryNetworkService, labels: Labels, endpoints: readonly NetworkServiceEndpoint[]): NetworkServiceEndpoint[] {
  const ofService = endpoints.filter((e) => e.networkServiceNames.includes(ns.name));
  if (ns.matches.length === 0) return ofService;
  const endpointLabels = (e: NetworkServiceEndpoint) => e.networkServiceLabels[ns.name]?.labels ?? {};
  for (const match of ns.matches) {
    if (!isSubset(renderSelector(match.sourceSelector, labels), labels)) continue;
    if (match.routes.length === 0 && match.metadata !== undefined) return ofService;
    const found: NetworkServiceEndpoint[] = [];
    for (const route of match.routes) {
      const want = renderSelector(route.destinationSelector, labels);
      for (const e of ofService) if (isSubset(want, endpointLabels(e)) && !found.includes(e)) found.push(e);
    }
    if (found.length > 0 || !match.fallthrough) return found;
  }
  return [];
}
