import { kernelMechanism } from '../../../proto/api.ts';
import { ip, IpError } from '../../../sdk/ip-command.ts';
import type { PodJoin } from './join.ts';
import { onwardIfname, throughBridgeName } from './names.ts';

const gone = (err: unknown) => err instanceof IpError && /Cannot find|does not exist|No such device/.test(err.stderr);

/**
 * ETHERNET payload: one two-port Linux bridge per connection, the incoming and the onward end its
 * only ports (neither gets an address: the client and the last endpoint hold theirs), so frames
 * pass through this pod unchanged and the pod's firewall filters them on the bridge. A bridge a
 * previous run left for the same connection is taken over.
 */
export function bridgeJoin(): PodJoin {
  return {
    kind: 'bridge',
    async prepare(connId) {
      const name = throughBridgeName(connId);
      try {
        await ip(['link', 'add', 'name', name, 'type', 'bridge']);
      } catch (err) {
        if (!(err instanceof IpError && /File exists/.test(err.stderr))) throw err;
      }
      await ip(['link', 'set', 'dev', name, 'up']);
    },
    onwardMechanism: (connId, netnsUrl) => kernelMechanism({ name: onwardIfname(connId), inodeURL: netnsUrl, bridge: throughBridgeName(connId) }),
    async onwardAnswered() {},
    incomingPort: (connId) => ({ bridge: throughBridgeName(connId), isolated: false }),
    incomingIpContext: (last) => last,
    async remove(connId) {
      try {
        await ip(['link', 'del', 'dev', throughBridgeName(connId)]);
      } catch (err) {
        if (!gone(err)) throw err;
      }
    },
  };
}
