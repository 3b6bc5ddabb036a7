import type { NetworkServiceEndpoint, RegistryNetworkService } from '../api.ts';
import { Payload } from '../mechanisms.ts';
import { first, labelsProblem, nameProblem, socketPathProblem, textProblem, type Problem } from './fields.ts';

const MAX_SERVICES = 64;
const MAX_MATCHES = 64;

/** unix:///abs/path, or tcp://host:port, as endpoints register their URL. */
function urlProblem(field: string, url: string): Problem {
  if (url === '') return `${field} is empty: the forwarder needs the endpoint's socket to reach it (unix:///path/to.sock)`;
  if (url.startsWith('unix:')) return socketPathProblem(field, url.replace(/^unix:(\/\/)?/, ''));
  if (!/^(tcp:\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(url)) return `${field} ${JSON.stringify(url.slice(0, 80))} is not unix:///path or tcp://host:port`;
  return textProblem(field, url, 255);
}

export function endpointProblem(nse: NetworkServiceEndpoint): Problem {
  if (nse.networkServiceNames.length > MAX_SERVICES) return `network_service_names has ${nse.networkServiceNames.length} entries; at most ${MAX_SERVICES} are allowed`;
  return first(
    nameProblem('name', nse.name),
    urlProblem('url', nse.url),
    ...nse.networkServiceNames.map((s, i) => nameProblem(`network_service_names[${i}]`, s)),
    ...Object.entries(nse.networkServiceLabels).map(([s, l]) => nameProblem('network_service_labels key', s) ?? labelsProblem(`network_service_labels[${JSON.stringify(s)}]`, l.labels)),
  );
}

/** An Unregister or a Find query names the endpoint only; the rest may be empty. */
export function endpointNameProblem(nse: NetworkServiceEndpoint): Problem {
  return nameProblem('name', nse.name);
}

export function serviceProblem(ns: RegistryNetworkService): Problem {
  if (ns.matches.length > MAX_MATCHES) return `matches has ${ns.matches.length} entries; at most ${MAX_MATCHES} are allowed`;
  return first(
    nameProblem('name', ns.name),
    ns.payload === '' || ns.payload === Payload.ETHERNET || ns.payload === Payload.IP ? undefined : `payload ${JSON.stringify(ns.payload)} is neither ETHERNET nor IP`,
    ...ns.matches.map((m, i) => labelsProblem(`matches[${i}].source_selector`, m.sourceSelector)
      ?? first(...m.routes.map((r, j) => labelsProblem(`matches[${i}].routes[${j}].destination_selector`, r.destinationSelector)))),
  );
}
