import { stat } from 'node:fs/promises';
import { Keys, type Connection, type Mechanism, type NetworkServiceEndpoint } from '../../proto/api.ts';
import { memifEndpointOf } from '../../proto/memif.ts';
import { closeQuietly } from '../../sdk/chain/rollback.ts';
import type { Element } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { ENDPOINT, endpointKey } from '../elements/roundrobin.ts';
import { netnsUrlOf } from './caller.ts';
import { isTunnelAnswer, tunnelAnswerProblem, type TunnelTargets } from './tunnel-answer.ts';

/** The process behind an endpoint on this node: its pid and network namespace (`<dev>:<ino>`). */
export interface EndpointProcess {
  pid: number;
  netns: string;
}

export interface EndpointIdentities {
  /** Who serves `nse`; undefined when that cannot be told (then its answers are not trusted). */
  of(nse: NetworkServiceEndpoint): Promise<EndpointProcess | undefined>;
}

const sameFile = async (a: string, b: string) => {
  const [x, y] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
};

/** Why the endpoint's answer names something that is not its own (or points a tunnel where it may not), or undefined when it does not. */
async function trespass(resp: Connection, who: EndpointProcess, offers: readonly Mechanism[], targets: TunnelTargets): Promise<string | undefined> {
  if (resp.mechanism && isTunnelAnswer(resp.mechanism)) return tunnelAnswerProblem(resp.mechanism, offers, targets);
  const netns = resp.mechanism?.parameters[Keys.inodeURL];
  if (netns && netns !== netnsUrlOf(who.netns)) return `it answered with network namespace ${netns}, but it runs in ${netnsUrlOf(who.netns)}`;
  const memif = memifEndpointOf(resp.mechanism);
  if (memif && !(await sameFile(memif.socketfile, `/proc/${who.pid}/root${memif.socketfile}`))) {
    return `it answered with memif socket ${memif.socketfile}, which is not the file its own process (pid ${who.pid}) sees at that path`;
  }
  return undefined;
}

/**
 * An endpoint on this node may answer only with its own network namespace and with a memif socket
 * its own process reaches: otherwise any pod could register an endpoint and have the forwarder put
 * interfaces into, or hand out sockets of, someone else. A tunnel answer (from an endpoint that
 * stands for an external device, offered tunnels by the elements above) is held to
 * `tunnelAnswerProblem` against the node's `tunnelTargets` (none without peering). Sits
 * right before the call to the endpoint, so the answer is checked before the elements above it
 * act on it; a refused answer closes the endpoint's side.
 */
export function endpointAnswer(identities: EndpointIdentities, tunnelTargets: () => TunnelTargets = () => ({ meshNodes: new Set(), deviceCidrs: [] })): Element {
  return {
    name: 'endpoint-answer',
    needs: [ENDPOINT],
    async request(ctx, req, next) {
      const nse = endpointKey.get(ctx)!;
      const who = await identities.of(nse);
      if (!who) throw new NsmError('UNAVAILABLE', `endpoint ${nse.name} is not identified on this node (nothing serves ${nse.url}, or it has not registered through this forwarder since it started); it registers again within a third of its registration lifetime`);
      const resp = await next.request(ctx, req);
      const why = await trespass(resp, who, req.mechanismPreferences, tunnelTargets());
      if (why) {
        ctx.log.warn({ element: 'endpoint-answer', endpoint: nse.name, pid: who.pid, netns: netnsUrlOf(who.netns), reason: why }, 'refused an endpoint\'s answer');
        await closeQuietly(ctx, 'endpoint-answer', next, resp);
        throw new NsmError('PERMISSION_DENIED', `endpoint ${nse.name}: ${why}`);
      }
      return resp;
    },
  };
}
