import { statSync } from 'node:fs';
import { NsmError } from '../../sdk/errors.ts';
import { ipJson } from '../../sdk/ip-command.ts';
import type { Logger } from '../../sdk/log.ts';
import type { NetnsResolver } from '../dataplane/netns-resolver.ts';
import { setLink } from '../dataplane/ops.ts';
import { NODE_NETNS, type KernelRunner, type LinkInfo, type Netns } from '../dataplane/runner.ts';
import type { PoolConfig } from './config.ts';
import { renameBack } from './device-moves.ts';
import { HeldNetns } from './held-netns.ts';
import type { DevicePool, Member } from './pool.ts';
import { newToken, parsePoolAlias, poolAlias } from './tokens.ts';

export interface MemberScan {
  runner: KernelRunner;
  /** The forwarder's name: only devices whose alias it wrote are its own. */
  owner: string;
  log: Logger;
}

type Link = LinkInfo & { link?: string };

/** A member's lower device (a macvlan's parent, a veth's peer in the same namespace) is down. */
function lowerDown(l: Link, links: readonly Link[]): boolean {
  if (!l.link) return false;
  const lower = links.find((x) => x.ifname === l.link);
  return lower !== undefined && !(lower.flags?.includes('UP') && lower.flags.includes('LOWER_UP'));
}

/**
 * The node-namespace link that is `device`: the one carrying its alias (under whatever name it
 * came back with), else the one of that name. A link of another name with the alias is renamed
 * back when the name is free; a link of that name gets the alias with `token`, so a member
 * re-created under its name keeps its token.
 */
async function nodeLinkOf(s: MemberScan, links: Link[], device: string, token: string | undefined): Promise<{ link: Link; token: string } | undefined> {
  const aliased = links.find((l) => parsePoolAlias(s.owner, l.ifalias)?.device === device);
  const named = links.find((l) => l.ifname === device);
  if (aliased && aliased.ifname !== device) {
    if (named) {
      s.log.warn({ device, found: aliased.ifname }, 'a pool device came back under another name, and its own name is taken; leaving it as it is');
    } else {
      await renameBack(s.runner, aliased.ifname, device);
      s.log.info({ device, found: aliased.ifname }, 'a pool device came back under another name; renamed it back');
      return { link: { ...aliased, ifname: device }, token: parsePoolAlias(s.owner, aliased.ifalias)!.token };
    }
  }
  if (!named) return undefined;
  const own = parsePoolAlias(s.owner, named.ifalias);
  if (own?.device === device && (token === undefined || own.token === token)) return { link: named, token: own.token };
  const kept = token ?? newToken();
  await s.runner.run(NODE_NETNS, [setLink({ name: device, alias: poolAlias(s.owner, device, kept) })]);
  return { link: named, token: kept };
}

function nodeNetnsKey(): string {
  const st = statSync('/proc/self/ns/net');
  return `${st.dev}:${st.ino}`;
}

async function addressesOf(netns: Netns, ifname: string): Promise<string[]> {
  const out = await ipJson(['address', 'show', 'dev', ifname], { netns: netns.path }).catch(() => []) as Array<{ addr_info?: Array<{ local: string; prefixlen: number; scope: string }> }>;
  return out.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`));
}

/** Devices of `wanted` that lie in pods' namespaces, lent by an earlier forwarder of this name: held open from now on. */
async function findStrays(s: MemberScan, resolver: NetnsResolver, wanted: Set<string>): Promise<Map<string, Member>> {
  const found = new Map<string, Member>();
  const node = nodeNetnsKey();
  for (const netns of await resolver.all()) {
    if (netns.key === node || found.size === wanted.size) continue;
    const links = await s.runner.links(netns).catch(() => [] as LinkInfo[]);
    for (const l of links) {
      const a = parsePoolAlias(s.owner, l.ifalias);
      if (!a || !wanted.has(a.device) || found.has(a.device)) continue;
      let held: HeldNetns;
      try {
        held = new HeldNetns(netns);
      } catch {
        continue; // the pod went away while scanning
      }
      found.set(a.device, { device: a.device, token: a.token, healthy: true, place: { kind: 'stray', held, ifname: l.ifname, addresses: await addressesOf(held.netns, l.ifname) } });
      s.log.info({ device: a.device, netns: netns.path, ifname: l.ifname }, 'found a pool device lent by an earlier forwarder; keeping it for its client');
    }
  }
  return found;
}

/**
 * Finds every device of the pools at start: in the node's namespace (by name, or by its alias
 * when it came back under another name), or lent into a pod by an earlier forwarder. A device
 * found nowhere stops the forwarder, naming the pool and the field.
 */
export async function discoverMembers(s: MemberScan, resolver: NetnsResolver, pools: readonly PoolConfig[], source: string): Promise<Member[][]> {
  const links = (await s.runner.links(NODE_NETNS)) as Link[];
  const atNode = new Map<string, Member>();
  for (const p of pools) {
    for (const device of p.devices) {
      const found = await nodeLinkOf(s, links, device, undefined);
      if (found) atNode.set(device, { device, token: found.token, healthy: !lowerDown(found.link, links), mtu: found.link.mtu, place: { kind: 'free' } });
    }
  }
  const elsewhere = new Set(pools.flatMap((p) => p.devices).filter((d) => !atNode.has(d)));
  const strays = elsewhere.size > 0 ? await findStrays(s, resolver, elsewhere) : new Map<string, Member>();
  return pools.map((p, i) => p.devices.map((device, j) => {
    const m = atNode.get(device) ?? strays.get(device);
    if (!m) {
      throw new NsmError('INVALID_ARGUMENT', `NSM_DEVICE_POOLS ${source}: pool ${p.resource} (pools[${i}]): devices[${j}] ${JSON.stringify(device)} does not exist in the node's network namespace (nor in a pod's, lent by an earlier forwarder): create it, or take it out of the pool`);
    }
    return m;
  }));
}

/**
 * Looks at the node's namespace again: a member there is free and healthy unless its lower
 * device is down; a member not there (and not lent) is missing and unhealthy, until it is back.
 */
export async function checkMembers(s: MemberScan, pools: readonly DevicePool[]): Promise<void> {
  const links = (await s.runner.links(NODE_NETNS)) as Link[];
  for (const pool of pools) {
    for (const m of pool.members) {
      if (m.place.kind === 'lent' || m.place.kind === 'stray') {
        m.healthy = true;
        continue;
      }
      const found = await nodeLinkOf(s, links, m.device, m.token).catch((err: unknown) => {
        s.log.warn({ device: m.device, err }, 'cannot take a pool device back');
        return undefined;
      });
      if (found) {
        if (m.place.kind === 'missing') s.log.info({ resource: pool.resource, device: m.device }, 'pool device is back');
        m.place = { kind: 'free' };
        m.mtu = found.link.mtu;
        m.healthy = !lowerDown(found.link, links);
      } else {
        if (m.place.kind !== 'missing') s.log.warn({ resource: pool.resource, device: m.device }, 'pool device is gone from the node\'s network namespace; reported Unhealthy until it is back');
        m.place = { kind: 'missing' };
        m.healthy = false;
      }
    }
    pool.changed();
  }
}
