import { writeFile } from 'node:fs/promises';
import { kernelMechanism } from '../../../proto/api.ts';
import { NsmError } from '../../../sdk/errors.ts';
import { ip, IpError } from '../../../sdk/ip-command.ts';
import type { PodJoin } from './join.ts';
import { onwardIfname } from './names.ts';

const SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv4/conf/all/proxy_arp'];

/**
 * IP payload: the pod routes between the two ends. It holds neither the client's address nor the
 * last endpoint's: the forwarder gives its onward end the client's address, which is taken off
 * again after each answer (and the last endpoint's routes made again: the kernel drops a device's
 * routes with its last address), and the client is answered with no endpoint address, so the incoming
 * end gets none either. What is left is a host route to the client on the incoming end and the
 * last endpoint's routes on the onward end; forwarding and proxy ARP (enabled at start in the
 * pod's namespace) carry packets between them, and the pod's firewall filters them on the
 * forward path.
 */
export async function routedJoin(): Promise<PodJoin> {
  try {
    await Promise.all(SYSCTLS.map((f) => writeFile(f, '1')));
  } catch (err) {
    throw new NsmError('PERMISSION_DENIED', `a passthrough with NSM_PAYLOAD=IP routes between its interfaces and needs to enable ${SYSCTLS.join(' and ')} in its pod (NET_ADMIN): ${(err as Error).message}`, { cause: err });
  }
  return {
    kind: 'routed',
    async prepare() {},
    onwardMechanism: (connId, netnsUrl) => kernelMechanism({ name: onwardIfname(connId), inodeURL: netnsUrl }),
    async onwardAnswered(connId, onward) {
      const dev = onwardIfname(connId);
      const ctx = onward.context?.ipContext;
      let removed = false;
      for (const address of ctx?.srcIpAddrs ?? []) {
        try {
          await ip(['address', 'del', address, 'dev', dev]);
          removed = true;
        } catch (err) {
          if (!(err instanceof IpError && /Cannot assign requested address/.test(err.stderr))) throw err;
        }
      }
      if (!removed) return;
      // The kernel drops a device's routes with its last address: the last endpoint's are made again, on-link.
      const hosts = (ctx?.dstIpAddrs ?? []).map((a) => `${a.split('/')[0]}/${a.includes(':') ? 128 : 32}`);
      for (const dst of hosts) await ip(['route', 'replace', dst, 'dev', dev, 'scope', 'link']);
      for (const r of ctx?.srcRoutes ?? []) {
        if (hosts.includes(r.prefix)) continue;
        await ip(['route', 'replace', r.prefix, 'dev', dev, ...(r.nextHop ? ['via', r.nextHop, 'onlink'] : ['scope', 'link'])]);
      }
    },
    incomingPort: () => undefined,
    incomingIpContext: (last) => last && { ...last, dstIpAddrs: [], dstRoutes: [] },
    async remove() {},
  };
}
