import { formatNsUrl, NsUrlError, parseNsUrlList, type NsUrl } from '../../proto/api.ts';
import { isNsmError } from '../../sdk/errors.ts';
import { parseDownwardMap } from '../../sdk/k8s/downward-api.ts';
import type { KeptConnection } from './kept-connection.ts';
import { checkMechanismOptions } from './preferences.ts';
import { SRIOV_TOKEN_LABEL } from './sriov-tokens.ts';

export type Desired = { urls: NsUrl[]; value: string } | { problem: string };

/**
 * The services the pod's annotation asks for now, from the annotations file the kubelet keeps
 * (`text`; undefined while there is none): the annotation's value when the pod has it; without
 * it, the services the pod was created with (for a pod injected for its namespace, the
 * namespace's). An empty value asks for none.
 */
export function desiredServices(text: string | undefined, annotation: string, createdWith: string): Desired {
  let value = createdWith;
  if (text !== undefined) {
    let annotations: Record<string, string>;
    try {
      annotations = parseDownwardMap(text);
    } catch (err) {
      return { problem: `the pod's annotations file cannot be read: ${(err as Error).message}` };
    }
    if (Object.hasOwn(annotations, annotation)) value = annotations[annotation];
  }
  try {
    const urls = parseNsUrlList(value);
    urls.forEach(checkMechanismOptions);
    return { urls, value };
  } catch (err) {
    if (err instanceof NsUrlError || isNsmError(err)) return { problem: `annotation ${annotation}: ${err.message}` };
    throw err;
  }
}

/** Whether a URL asks for the same connection as one kept: same mechanism, service, domain, interface and labels. */
export const sameUrl = (a: NsUrl, b: NsUrl) => formatNsUrl(a) === formatNsUrl(b);

/**
 * Why the annotation's new URLs cannot replace the kept ones, if they cannot: an interface an
 * application asked for, or a device-pool claim the pod was not created with (the kubelet hands
 * devices to a pod when it starts; a changed URL keeps the device of the one it replaces).
 */
export function changeProblem(urls: readonly NsUrl[], kept: readonly KeptConnection[], annotation: string): string | undefined {
  for (const u of urls) {
    const there = kept.find((k) => k.url.ifname === u.ifname);
    if (there?.origin === 'application') {
      return `annotation ${annotation}: interface ${u.ifname} of ${formatNsUrl(u)} is in use by a connection an application of the pod asked for (${formatNsUrl(there.url)}); pick another interface name`;
    }
    const resource = u.labels[SRIOV_TOKEN_LABEL];
    if (resource !== undefined && !(there && there.token !== undefined && there.url.labels[SRIOV_TOKEN_LABEL] === resource)) {
      return `annotation ${annotation}: ${formatNsUrl(u)} claims a device of ${resource}, but the kubelet hands devices to a pod only when it is created (resources.limits); create the pod again with it`;
    }
  }
  return undefined;
}
