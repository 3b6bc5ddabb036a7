import { Payload } from '../../../proto/api.ts';
import { ownNetnsUrl } from '../../../sdk/netns.ts';
import { dialer } from '../../nsc/client.ts';
import { kernelAnswer } from '../elements/kernel-answer.ts';
import type { EndpointMode } from '../modes.ts';
import { bridgeJoin } from './join-bridge.ts';
import { joinInPod } from './join-in-pod.ts';
import { routedJoin } from './join-routed.ts';
import { OnwardConnections } from './onward-connections.ts';
import { refuseLoop } from './refuse-loop.ts';
import { requestOnward } from './request-onward.ts';

/** One onward attempt stays well inside the time the forwarder gives the incoming Request. */
const ONWARD_REQUEST_TIMEOUT_MS = 10_000;

/**
 * passthrough: a function of a service chain (a firewall, a NAT...). Each connection it receives
 * is requested onward, for the same service, with this endpoint's NSM_LABELS as the request's
 * labels, so the service's matches pick the next function; the two interfaces are joined in this
 * pod (a two-port bridge for ETHERNET, routing for IP), where the pod's own tools can filter
 * what passes.
 */
export const passthroughMode: EndpointMode = {
  async start(o, config) {
    const join = config.NSM_PAYLOAD === Payload.IP ? await routedJoin() : bridgeJoin();
    const netnsUrl = ownNetnsUrl();
    const onwards = new OnwardConnections({
      me: o.name, labels: o.labels, netnsUrl, join, dial: dialer(o.connectTo, o.dialTimeoutMs), requestTimeoutMs: ONWARD_REQUEST_TIMEOUT_MS, log: o.log,
    });
    return {
      elements: [refuseLoop(o.name), joinInPod(join), requestOnward(onwards, join), kernelAnswer(netnsUrl, (conn) => join.incomingPort(conn.id))],
      describe: { join: join.kind, onwardLabels: o.labels },
      held: () => ({ onwardConnections: onwards.size }),
      stop: () => onwards.stop(),
    };
  },
};
