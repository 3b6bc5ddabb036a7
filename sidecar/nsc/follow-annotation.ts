import { formatNsUrl, type NsUrl } from '../../proto/api.ts';
import type { Logger } from '../../sdk/log.ts';
import { interfaceConnectionId } from './client.ts';
import { changeProblem, desiredServices, sameUrl } from './desired-services.ts';
import type { KeptSet } from './kept-set.ts';
import type { ProblemReporter } from './pod-events.ts';

export interface FollowOptions {
  set: KeptSet;
  /** NSM_ANNOTATION. */
  annotation: string;
  /** NSM_NETWORK_SERVICES as given (what the pod was created with) and parsed. */
  createdValue: string;
  createdWith: readonly NsUrl[];
  name: string;
  report: ProblemReporter;
  log: Logger;
}

/** The Event reason of an annotation value the sidecar did not follow. */
export const NOT_FOLLOWED = 'NetworkServicesNotChanged';

/**
 * What the sidecar does with each new text of the pod's annotations file: the annotation's URLs
 * become the pod's connections. A removed URL is closed (its interface disappears), an added one
 * requested (its interface appears), a changed one (same interface, anything else different) closed
 * and then requested anew with the same connection id; the others are not touched. A value that
 * cannot be followed changes nothing and is reported.
 */
export function annotationFollower(o: FollowOptions): (text: string | undefined) => Promise<void> {
  return async (text) => {
    const desired = desiredServices(text, o.annotation, o.createdValue);
    const problem = 'problem' in desired ? desired.problem : changeProblem(desired.urls, o.set.all, o.annotation);
    if (problem !== undefined || 'problem' in desired) {
      await o.report(NOT_FOLLOWED, `${problem ?? ''}; the pod's connections are left as they are`);
      return;
    }
    const kept = o.set.all.filter((k) => k.origin === 'annotation');
    const removed = kept.filter((k) => !desired.urls.some((u) => sameUrl(u, k.url)));
    const added = desired.urls.filter((u) => !kept.some((k) => sameUrl(u, k.url)));
    if (removed.length === 0 && added.length === 0) return;
    o.log.info({ added: added.map(formatNsUrl), removed: removed.map((k) => formatNsUrl(k.url)) }, `annotation ${o.annotation} changed`);
    const tokens = new Map(removed.map((k) => [k.url.ifname, k.token]));
    await Promise.all(removed.map((k) => o.set.drop(k)));
    for (const u of added) o.set.keep(u, interfaceConnectionId(o.name, o.createdWith, u.ifname), { origin: 'annotation', token: tokens.get(u.ifname) });
  };
}
