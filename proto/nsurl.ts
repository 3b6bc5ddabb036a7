import { ifnameProblem, labelsProblem } from './validate/fields.ts';

/**
 * Network service URLs as pods write them in the `networkservicemesh.io` annotation:
 * `<mech>://<service>[@<domain>]/<ifname>[?label=value&...]`, several joined by commas.
 */
export const NS_URL_MECHANISMS = ['kernel', 'memif'] as const;
export type NsUrlMechanism = (typeof NS_URL_MECHANISMS)[number];

export interface NsUrl {
  mechanism: NsUrlMechanism;
  service: string;
  domain?: string;
  ifname: string;
  labels: Record<string, string>;
}

export type NsUrlPart = 'syntax' | 'mechanism' | 'service' | 'domain' | 'interface' | 'labels';

export class NsUrlError extends Error {
  readonly url: string;
  readonly part: NsUrlPart;
  constructor(url: string, part: NsUrlPart, problem: string) {
    super(`network service URL ${JSON.stringify(url)}: ${problem}`);
    this.name = 'NsUrlError';
    this.url = url;
    this.part = part;
  }
}

const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const EXAMPLE = 'kernel://my-service/nsm-1';

function nameProblem(what: string, value: string): string | undefined {
  if (value === '') return `the ${what} is empty (example: ${EXAMPLE})`;
  if (!NAME.test(value)) {
    return `${what} ${JSON.stringify(value)} may contain only letters, digits, '-', '_' and '.', and must start and end with a letter or digit`;
  }
  return undefined;
}

function parseLabels(url: string, query: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (query === '') return labels;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new NsUrlError(url, 'labels', `label ${JSON.stringify(pair)} must be written key=value`);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(pair.slice(0, eq));
      value = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new NsUrlError(url, 'labels', `label ${JSON.stringify(pair)} has a malformed %-escape`);
    }
    if (Object.hasOwn(labels, key)) throw new NsUrlError(url, 'labels', `label ${JSON.stringify(key)} is given twice`);
    const problem = labelsProblem('label', { [key]: value });
    if (problem) throw new NsUrlError(url, 'labels', problem);
    labels[key] = value;
  }
  return labels;
}

/** Why `service` cannot be the network service of an NS URL, or undefined when it can. */
export function serviceNameProblem(service: string): string | undefined {
  return nameProblem('service name', service);
}

export function parseNsUrl(input: string): NsUrl {
  const url = input.trim();
  const sep = url.indexOf('://');
  if (sep < 0) throw new NsUrlError(url, 'syntax', `expected <mechanism>://<service>/<interface>, for example ${EXAMPLE}`);
  const mech = url.slice(0, sep).toLowerCase();
  if (!(NS_URL_MECHANISMS as readonly string[]).includes(mech)) {
    const shown = mech === '' ? 'the mechanism is empty' : `unknown mechanism ${JSON.stringify(url.slice(0, sep))}`;
    throw new NsUrlError(url, 'mechanism', `${shown}; use one of ${NS_URL_MECHANISMS.join(', ')}`);
  }
  const rest = url.slice(sep + 3);
  const q = rest.indexOf('?');
  const location = q < 0 ? rest : rest.slice(0, q);
  const labels = parseLabels(url, q < 0 ? '' : rest.slice(q + 1));
  const slash = location.indexOf('/');
  const authority = slash < 0 ? location : location.slice(0, slash);
  const ifname = slash < 0 ? '' : location.slice(slash + 1);
  const at = authority.indexOf('@');
  const service = at < 0 ? authority : authority.slice(0, at);
  const domain = at < 0 ? undefined : authority.slice(at + 1);
  const serviceProblem = nameProblem('service name', service);
  if (serviceProblem) throw new NsUrlError(url, 'service', serviceProblem);
  if (domain !== undefined) {
    const domainProblem = nameProblem('domain', domain);
    if (domainProblem) throw new NsUrlError(url, 'domain', domainProblem);
  }
  const ifProblem = ifnameProblem(ifname);
  if (ifProblem) throw new NsUrlError(url, 'interface', ifProblem);
  const parsed: NsUrl = { mechanism: mech as NsUrlMechanism, service, ifname, labels };
  if (domain !== undefined) parsed.domain = domain;
  return parsed;
}

export function formatNsUrl(u: NsUrl): string {
  const domain = u.domain === undefined ? '' : `@${u.domain}`;
  const labels = Object.entries(u.labels).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return `${u.mechanism}://${u.service}${domain}/${u.ifname}${labels.length ? `?${labels.join('&')}` : ''}`;
}

/** Parses a comma-separated list; blank entries are skipped; interface names must be unique. */
export function parseNsUrlList(value: string): NsUrl[] {
  const urls: NsUrl[] = [];
  const owner = new Map<string, string>();
  for (const entry of value.split(',')) {
    if (entry.trim() === '') continue;
    const u = parseNsUrl(entry);
    const first = owner.get(u.ifname);
    if (first !== undefined) {
      throw new NsUrlError(entry.trim(), 'interface', `interface name ${JSON.stringify(u.ifname)} is already used by ${JSON.stringify(first)} in the same list`);
    }
    owner.set(u.ifname, entry.trim());
    urls.push(u);
  }
  return urls;
}

export function formatNsUrlList(urls: NsUrl[]): string {
  return urls.map(formatNsUrl).join(',');
}
