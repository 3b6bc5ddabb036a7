import { bridgePortOf, type BridgePort, type ConnectionContext, type Mechanism } from '../../proto/api.ts';
import type { Side } from './ipcontext.ts';
import type { KernelOp } from './kernel-op.ts';
import { setBridgePort, setLink } from './ops.ts';
import { aliasOf, configureEnd, NSM_LINK_GROUP } from './veth.ts';

/**
 * An end that joins a bridge of its own namespace. Ordering: it is named and sized, enslaved, and
 * given its port flags while still down (a port isolated only after it came up keeps what it
 * learnt in between), then raised; enslaving and flags are two ops because the kernel takes port
 * flags only from a link that is a port already. It gets no address and no MAC: those are the
 * bridge's.
 */
export function bridgePortOps(ifname: string, connId: string, mtu: number, owner: string, port: BridgePort): KernelOp[] {
  return [
    setLink({ name: ifname, alias: aliasOf(connId, owner), group: NSM_LINK_GROUP, ...(mtu > 0 ? { mtu } : {}) }),
    setLink({ name: ifname, master: port.bridge }),
    ...(port.isolated ? [setBridgePort({ name: ifname, isolated: true })] : []),
    setLink({ name: ifname, up: true }),
  ];
}

/**
 * What one end of a connection becomes, from the mechanism of its side (the endpoint's answer, or
 * the client's offer): a port of the bridge the mechanism names, or an interface of its own with
 * the side's addresses, routes and MAC (ethernet context: src for the client, dst for the endpoint,
 * as upstream's sdk-kernel applies them).
 */
export function endOps(ifname: string, connId: string, mtu: number, context: ConnectionContext | undefined, side: Side, owner: string, mechanism: Mechanism | undefined): KernelOp[] {
  const port = bridgePortOf(mechanism);
  if (port) return bridgePortOps(ifname, connId, mtu, owner, port);
  const eth = context?.ethernetContext;
  const mac = (side === 'client' ? eth?.srcMac : eth?.dstMac) || undefined;
  return configureEnd(ifname, connId, mtu, context?.ipContext, side, owner, mac);
}
