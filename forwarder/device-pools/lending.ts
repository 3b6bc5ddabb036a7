import { randomBytes } from 'node:crypto';
import { IPContext } from '../../proto/api.ts';
import { KeyedSerializer } from '../../sdk/chain/serialize.ts';
import { isNsmError, NsmError } from '../../sdk/errors.ts';
import { inPrefix } from '../../sdk/ip.ts';
import type { Logger } from '../../sdk/log.ts';
import type { KernelRunner, Netns } from '../dataplane/runner.ts';
import { moveBack, moveIntoPod } from './device-moves.ts';
import { HeldNetns } from './held-netns.ts';
import type { DevicePool, Lease, Member } from './pool.ts';

/** Everything that moves members happens one at a time, so a scan never sees a device half way. */
const MEMBERS = 'members';

/** The IP context a lease's device gets: its address (the prefix's own length) and the pool's routes. */
export function leaseIpContext(pool: DevicePool, address: string | undefined): IPContext {
  return IPContext.fromPartial({
    srcIpAddrs: address ? [address] : [],
    srcRoutes: pool.config.routes.map((r) => ({ prefix: r.prefix, nextHop: r.nextHop ?? '' })),
  });
}

export interface LendRequest {
  connId: string;
  /** The client's namespace (resolved from its inodeURL). */
  client: Netns;
  ifname: string;
  /** An address the connection already carries (a refresh after a restart). */
  wantedAddress?: string;
  close?: () => Promise<void>;
}

/**
 * Lends pool devices to connections and takes them back: the kernel work (device-moves.ts), the
 * namespace held open meanwhile, the address, and the member's place. `serial` runs every
 * change of members one at a time (the health scan takes part too).
 */
export class Lending {
  readonly serial = new KeyedSerializer();
  readonly #runner: KernelRunner;
  readonly #log: Logger;

  constructor(runner: KernelRunner, log: Logger) {
    this.#runner = runner;
    this.#log = log;
  }

  /** Runs `task` while no member moves. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.serial.run(MEMBERS, task);
  }

  lend(pool: DevicePool, member: Member, r: LendRequest): Promise<Lease> {
    return this.exclusive(async () => {
      const place = member.place;
      if (place.kind === 'lent') {
        if (place.lease.connId === r.connId) return place.lease;
        throw new NsmError('FAILED_PRECONDITION', `the device of token ${member.token} (pool ${pool.resource}) is in use by another connection; a token serves one connection: ask for one token per NS URL`);
      }
      if (place.kind === 'missing') {
        throw new NsmError('FAILED_PRECONDITION', `the device of token ${member.token} (pool ${pool.resource}) is gone from the node (reported Unhealthy to the kubelet): ask for another, or re-create ${member.device} in the node's network namespace`);
      }
      if (place.kind === 'stray') return this.#claimStray(pool, member, place, r);
      const held = new HeldNetns(r.client);
      const address = pool.addresses?.take(r.connId, r.wantedAddress);
      try {
        await moveIntoPod(this.#runner, member.device, held.netns, r.ifname, pool.config.mtu, leaseIpContext(pool, address));
      } catch (err) {
        held.release();
        pool.addresses?.release(r.connId);
        if (isNsmError(err, 'ALREADY_EXISTS')) throw new NsmError('ALREADY_EXISTS', `interface ${r.ifname} already exists in the client's network namespace: choose another interface name in the NS URL`, { cause: err });
        throw err;
      }
      const lease: Lease = { connId: r.connId, member, held, ifname: r.ifname, ...(address ? { address } : {}), ...(r.close ? { close: r.close } : {}) };
      member.place = { kind: 'lent', lease };
      return lease;
    });
  }

  /** A device an earlier forwarder lent: it is the connection's when it lies in the caller's namespace. */
  #claimStray(pool: DevicePool, member: Member, place: Extract<Member['place'], { kind: 'stray' }>, r: LendRequest): Lease {
    if (place.held.netns.key !== r.client.key) {
      throw new NsmError('FAILED_PRECONDITION', `the device of token ${member.token} (pool ${pool.resource}) is in use in another pod; a token serves one connection`);
    }
    const kept = place.addresses.find((a) => pool.addresses && inPrefix(pool.addresses.cidr, a.split('/')[0]));
    const address = pool.addresses?.take(r.connId, kept ?? r.wantedAddress);
    const lease: Lease = { connId: r.connId, member, held: place.held, ifname: place.ifname, ...(address ? { address } : {}), ...(r.close ? { close: r.close } : {}) };
    member.place = { kind: 'lent', lease };
    this.#log.info({ connId: r.connId, device: member.device }, 'adopted a pool device an earlier forwarder lent');
    return lease;
  }

  /** Takes the device back to the node's namespace, down, without addresses, under its own name. */
  giveBack(pool: DevicePool, lease: Lease): Promise<void> {
    return this.exclusive(async () => {
      const { member } = lease;
      if (member.place.kind !== 'lent' || member.place.lease !== lease) return;
      try {
        await this.#return(member, lease.held.netns, lease.ifname);
      } finally {
        lease.held.release();
        pool.addresses?.release(lease.connId);
        pool.changed();
      }
    });
  }

  /** Takes back a device an earlier forwarder lent and no client claimed. */
  reclaimStray(pool: DevicePool, member: Member): Promise<void> {
    return this.exclusive(async () => {
      const place = member.place;
      if (place.kind !== 'stray') return;
      this.#log.info({ device: member.device }, 'no client claimed a pool device an earlier forwarder lent; taking it back');
      try {
        await this.#return(member, place.held.netns, place.ifname);
      } finally {
        place.held.release();
        pool.changed();
      }
    });
  }

  async #return(member: Member, from: Netns, ifname: string): Promise<void> {
    try {
      await moveBack(this.#runner, from, ifname, member.device);
      member.place = { kind: 'free' };
    } catch (err) {
      if (isNsmError(err, 'NOT_FOUND')) {
        this.#log.warn({ device: member.device, ifname }, 'a lent pool device is gone from its pod (deleted there); reported Unhealthy until it is back in the node\'s network namespace');
        member.place = { kind: 'missing' };
        member.healthy = false;
        return;
      }
      if (!isNsmError(err, 'ALREADY_EXISTS')) {
        member.place = { kind: 'missing' };
        member.healthy = false;
        throw err;
      }
      // Its name is taken in the node's namespace: it comes back under a name of its own, and the
      // health scan gives it its name once that is free (its alias says which device it is).
      const spare = `nsmpool${randomBytes(4).toString('hex')}`;
      await moveBack(this.#runner, from, ifname, spare);
      this.#log.warn({ device: member.device, as: spare }, 'a pool device came back while its name is taken in the node\'s namespace; it keeps another name until that is free');
      member.place = { kind: 'missing' };
      member.healthy = false;
    }
  }
}
