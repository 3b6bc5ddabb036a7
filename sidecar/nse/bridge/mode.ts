import { ownNetnsUrl } from '../../../sdk/netns.ts';
import { kernelAnswer } from '../elements/kernel-answer.ts';
import type { EndpointMode } from '../modes.ts';
import { poolMetrics } from '../pool-metrics.ts';
import { clientAddresses } from './client-addresses.ts';
import { BridgeDomain } from './domain.ts';
import { linkMetrics } from './domain-metrics.ts';
import { domainMtu } from './domain-mtu.ts';
import { BRIDGE_DOMAIN_LABEL } from './labels.ts';
import { closeLeftoverLinks } from './leftover-links.ts';
import { macOf } from './mac.ts';
import { OwnBridge } from './own-bridge.ts';
import { peerLinks } from './peer-links.ts';
import { pinNeighbour } from './pin-neighbour.ts';
import { bridgeSettings } from './settings.ts';

/** How long the first clients wait for the links that decide their MTU. */
const SETTLE_MS = 10_000;

/**
 * bridge: the endpoint owns a Linux bridge in its pod; the forwarder makes the endpoint's end of
 * every connection a port of it, and each client gets one address of the domain's subnet. With
 * NSM_BRIDGE_DOMAIN the bridge links itself with every other bridge of the domain.
 * At start it creates the bridge, or adopts the one a previous run left with its ports: the
 * addresses its clients hold (pinned as neighbours) are kept for them for one connection lifetime.
 */
export const bridgeMode: EndpointMode = {
  async start(o, config) {
    const s = bridgeSettings(config);
    const bridge = new OwnBridge(s.bridge);
    const how = await bridge.ensure(s.pool.withLength(s.pool.bridgeAddress), macOf(s.pool.bridgeAddress));
    const held = (await bridge.pinned()).filter((n) => s.pool.hold(n.ip));
    const forget = held.length > 0 ? setTimeout(() => {
      for (const ip of s.pool.releaseHeld()) void bridge.unpin(ip).catch(() => {});
    }, o.connectionLifetimeMs) : undefined;
    forget?.unref();
    const netnsUrl = ownNetnsUrl();
    const domain = s.domain ? new BridgeDomain({
      me: o.name, domain: s.domain, service: o.services[0], bridge: s.bridge, netnsUrl, connectTo: o.connectTo, dialTimeoutMs: o.dialTimeoutMs, log: o.log,
    }) : undefined;
    if (domain && how === 'adopted') await closeLeftoverLinks(bridge, domain.dial, o.name, o.log);
    domain?.start();
    const labels: Record<string, string> = s.domain ? { [BRIDGE_DOMAIN_LABEL]: s.domain } : {};
    return {
      elements: [
        ...(domain ? [peerLinks(domain, netnsUrl, s.bridge), domainMtu(domain, s.domain, SETTLE_MS)] : []),
        clientAddresses(s.pool, s.bridge),
        pinNeighbour(bridge),
        kernelAnswer(netnsUrl, { bridge: s.bridge, isolated: false }),
      ],
      labels,
      describe: { bridge: s.bridge, how, address: s.pool.withLength(s.pool.bridgeAddress), pool: s.pool.pool.cidr, domain: s.domain || undefined, heldForReturningClients: held.length },
      metrics: (registry) => {
        poolMetrics(registry, s.pool);
        if (domain) linkMetrics(registry, domain);
      },
      stop: async () => {
        clearTimeout(forget);
        await domain?.stop();
      },
    };
  },
};
