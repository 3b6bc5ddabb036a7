import type { Device } from '../../proto/gen/deviceplugin/v1beta1/api.ts';
import { AddressPool } from './addresses.ts';
import type { PoolConfig } from './config.ts';
import type { HeldNetns } from './held-netns.ts';
import { tokensEnvName } from './tokens.ts';

export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';

/** A device lent to one connection: it lies in the client's namespace (held open) as `ifname`. */
export interface Lease {
  connId: string;
  member: Member;
  held: HeldNetns;
  ifname: string;
  /** `address/length` from the pool's cidrPrefix, when it has one. */
  address?: string;
  /** Closes the connection through the chain (so every element forgets it), for a pod that ended without Close. */
  close?: () => Promise<void>;
}

/**
 * Where a member is:
 * - free: in the node's namespace under its own name;
 * - lent: in a client's namespace, for a connection;
 * - stray: found in a pod's namespace at start (lent by a previous forwarder), until its client
 *   refreshes the connection or a connection lifetime passes;
 * - missing: nowhere to be found (deleted, or destroyed with a pod's namespace).
 */
export type Place =
  | { kind: 'free' }
  | { kind: 'lent'; lease: Lease }
  | { kind: 'stray'; held: HeldNetns; ifname: string; addresses: string[] }
  | { kind: 'missing' };

export interface Member {
  /** Its name in the node's namespace. */
  readonly device: string;
  readonly token: string;
  place: Place;
  /** What the kubelet is told: present, and its lower device (if any) up. */
  healthy: boolean;
  /** Its own MTU, as last seen in the node's namespace. */
  mtu?: number;
}

/**
 * One pool: its members with their tokens and health (what the kubelet sees), and which are
 * lent. Listeners hear of every change of what the kubelet sees.
 */
export class DevicePool {
  readonly config: PoolConfig;
  /** Its registration as an endpoint of its network service. */
  readonly endpointName: string;
  readonly members: readonly Member[];
  readonly addresses?: AddressPool;
  readonly #listeners = new Set<() => void>();
  #shown = '';

  constructor(config: PoolConfig, endpointName: string, members: Member[]) {
    this.config = config;
    this.endpointName = endpointName;
    this.members = members;
    if (config.cidrPrefix) this.addresses = new AddressPool(config.cidrPrefix, config.excludePrefixes);
    this.#shown = JSON.stringify(this.devices());
  }

  get resource(): string {
    return this.config.resource;
  }

  /** The ListAndWatch view: every member by its token, with its health. */
  devices(): Device[] {
    return this.members.map((m) => ({ ID: m.token, health: m.healthy ? HEALTHY : UNHEALTHY }));
  }

  member(token: string): Member | undefined {
    return this.members.find((m) => m.token === token);
  }

  /** Listens for changes of `devices()`; returns the function that stops listening. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the listeners when `devices()` differs from what they last heard. */
  changed(): void {
    const now = JSON.stringify(this.devices());
    if (now === this.#shown) return;
    this.#shown = now;
    for (const l of this.#listeners) l();
  }

  /** What Allocate answers a container that got `ids`: upstream's env var, the tokens comma-separated. */
  envFor(ids: readonly string[]): Record<string, string> {
    return { [tokensEnvName(this.resource)]: ids.join(',') };
  }
}
