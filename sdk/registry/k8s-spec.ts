import type { Match, NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';

/**
 * The CRD `spec` shape upstream NSM stores (Go encoding/json of the registry protos): snake_case
 * keys, empty fields left out, Timestamps as {seconds, nanos}.
 */
type Json = Record<string, unknown>;

interface TimestampJson { seconds?: number | string; nanos?: number }

function timestampToJson(d: Date | undefined): TimestampJson | undefined {
  if (!d) return undefined;
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  return nanos ? { seconds, nanos } : { seconds };
}

function timestampFromJson(t: unknown): Date | undefined {
  if (!t || typeof t !== 'object') return undefined;
  const { seconds = 0, nanos = 0 } = t as TimestampJson;
  return new Date(Number(seconds) * 1000 + Math.floor(Number(nanos) / 1_000_000));
}

/** Drops empty strings, empty arrays, empty maps and false, as Go's `omitempty` does. */
function compact(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === '' || v === false || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
};
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const objList = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((x: unknown): x is Json => typeof x === 'object' && x !== null) : []);

export function endpointToSpec(nse: NetworkServiceEndpoint): Json {
  const labels: Json = {};
  for (const [svc, l] of Object.entries(nse.networkServiceLabels)) labels[svc] = compact({ labels: l.labels });
  return compact({
    name: nse.name,
    network_service_names: nse.networkServiceNames,
    network_service_labels: labels,
    url: nse.url,
    expiration_time: timestampToJson(nse.expirationTime),
    initial_registration_time: timestampToJson(nse.initialRegistrationTime),
    path_ids: nse.pathIds,
  });
}

export function endpointFromSpec(name: string, spec: Json = {}): NetworkServiceEndpoint {
  const labels: NetworkServiceEndpoint['networkServiceLabels'] = {};
  const raw = spec.network_service_labels;
  if (raw && typeof raw === 'object') for (const [svc, l] of Object.entries(raw)) labels[svc] = { labels: strMap((l as Json)?.labels) };
  return {
    name: typeof spec.name === 'string' && spec.name ? spec.name : name,
    networkServiceNames: strList(spec.network_service_names),
    networkServiceLabels: labels,
    url: typeof spec.url === 'string' ? spec.url : '',
    expirationTime: timestampFromJson(spec.expiration_time),
    initialRegistrationTime: timestampFromJson(spec.initial_registration_time),
    pathIds: strList(spec.path_ids),
  };
}

function matchToJson(m: Match): Json {
  const out = compact({
    source_selector: m.sourceSelector,
    routes: m.routes.map((r) => compact({ destination_selector: r.destinationSelector, weight: r.weight })),
    fallthrough: m.fallthrough,
  });
  // A present but empty metadata means something to endpoint selection, so it is kept.
  if (m.metadata) out.metadata = compact({ labels: m.metadata.labels });
  return out;
}

function matchFromJson(j: Json): Match {
  const metadata = j.metadata && typeof j.metadata === 'object' ? { labels: strMap((j.metadata as Json).labels) } : undefined;
  return {
    sourceSelector: strMap(j.source_selector),
    routes: objList(j.routes).map((r) => ({ destinationSelector: strMap(r.destination_selector), weight: Number(r.weight ?? 0) })),
    fallthrough: j.fallthrough === true,
    metadata,
  };
}

export function serviceToSpec(ns: RegistryNetworkService): Json {
  return compact({ name: ns.name, payload: ns.payload, matches: ns.matches.map(matchToJson), path_ids: ns.pathIds });
}

export function serviceFromSpec(name: string, spec: Json = {}): RegistryNetworkService {
  return {
    name: typeof spec.name === 'string' && spec.name ? spec.name : name,
    payload: typeof spec.payload === 'string' ? spec.payload : '',
    matches: objList(spec.matches).map(matchFromJson),
    pathIds: strList(spec.path_ids),
  };
}
