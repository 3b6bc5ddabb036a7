import type { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';
import type { Ctx } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { parseAddress } from '../../sdk/grpc/address.ts';
import type { RegistrationGuard } from '../../sdk/registry/server.ts';
import { callerOf, netnsUrlOf, type Caller } from './caller.ts';
import type { EndpointIdentities, EndpointProcess } from './endpoint-answer.ts';
import { SocketListeners } from './listener.ts';
import { refuse } from './refuse.ts';

const socketOf = (url: string) => {
  const a = parseAddress(url);
  return a.kind === 'unix' ? a.path : undefined;
};

const sameMatches = (a: RegistryNetworkService, b: RegistryNetworkService) => JSON.stringify(a.matches) === JSON.stringify(b.matches);

/**
 * What callers on the forwarder's socket may register:
 * - an endpoint registration belongs to the network namespace that made it: only that caller
 *   refreshes or unregisters it, and no one else takes the name while it is live;
 * - an endpoint's socket must be served by a process in the caller's own namespace (asked of the
 *   kernel), so a pod cannot register someone else's socket;
 * - no endpoint takes the forwarder's own name;
 * - a NetworkService is created by whoever registers it first; after that only its creator may
 *   change it, and re-registering it unchanged is always fine (an endpoint does that after a
 *   forwarder restart). Registering without matches keeps the matches it has.
 * After a restart owners are unknown: a live registration whose socket is still served is
 * claimed only from the namespace that serves it; other names go to the first caller.
 * Also tells, for the endpoint-answer check, which process serves an endpoint.
 */
export class Registrations implements RegistrationGuard, EndpointIdentities {
  readonly #forwarder: string;
  readonly #listeners = new SocketListeners();
  /** Endpoint name → namespace and pid of the caller that registered it. */
  readonly #endpoints = new Map<string, EndpointProcess>();
  /** Service name → namespace of its creator. */
  readonly #services = new Map<string, string>();
  /** Names of endpoints the forwarder itself serves (its device pools). */
  readonly #own = new Set<string>();

  constructor(forwarderName: string) {
    this.#forwarder = forwarderName;
  }

  /** Keeps `name` for an endpoint of the forwarder's own: no caller may register, refresh or unregister it. */
  reserve(name: string): void {
    this.#own.add(name);
  }

  async of(nse: NetworkServiceEndpoint): Promise<EndpointProcess | undefined> {
    const socket = socketOf(nse.url);
    if (socket === undefined) return this.#endpoints.get(nse.name);
    const listener = await this.#listeners.of(socket);
    return listener?.netns ? { pid: listener.pid, netns: listener.netns } : undefined;
  }

  async registerEndpoint(ctx: Ctx, nse: NetworkServiceEndpoint, existing: NetworkServiceEndpoint | undefined): Promise<void> {
    const caller = this.#local(ctx, 'register endpoint');
    if (!caller) return;
    if (nse.name === this.#forwarder) refuse(ctx, caller, 'register endpoint', `${nse.name} is the name of this forwarder; an endpoint needs a name of its own (NSM_NAME)`);
    if (this.#own.has(nse.name)) refuse(ctx, caller, 'register endpoint', `${nse.name} is a device pool this forwarder serves itself; an endpoint needs a name of its own (NSM_NAME)`);
    await this.#mayHold(ctx, caller, nse.name, existing, 'register endpoint');
    const socket = socketOf(nse.url);
    if (socket !== undefined) {
      const listener = await this.#listeners.of(socket);
      if (!listener?.netns) throw new NsmError('FAILED_PRECONDITION', `nothing serves the endpoint's socket ${socket}: start serving it before registering, at a path the forwarder reaches (the shared socket directory)`);
      if (listener.netns !== caller.netns) refuse(ctx, caller, 'register endpoint', `the socket ${socket} is served from network namespace ${netnsUrlOf(listener.netns)}, not the caller's: an endpoint registers only its own socket`);
    }
    this.#endpoints.set(nse.name, { pid: caller.pid, netns: caller.netns });
  }

  async unregisterEndpoint(ctx: Ctx, name: string, existing: NetworkServiceEndpoint | undefined): Promise<void> {
    const caller = this.#local(ctx, 'unregister endpoint');
    if (caller && this.#own.has(name)) refuse(ctx, caller, 'unregister endpoint', `${name} is a device pool this forwarder serves itself`);
    if (caller) await this.#mayHold(ctx, caller, name, existing, 'unregister endpoint');
  }

  forgetEndpoint(name: string): void {
    this.#endpoints.delete(name);
  }

  async registerService(ctx: Ctx, ns: RegistryNetworkService, existing: RegistryNetworkService | undefined): Promise<RegistryNetworkService> {
    const caller = this.#local(ctx, 'register network service');
    if (!caller) return ns;
    if (!existing) {
      this.#services.set(ns.name, caller.netns);
      return ns;
    }
    const merged = ns.matches.length === 0 ? { ...ns, matches: existing.matches } : ns;
    if (this.#services.get(ns.name) === caller.netns) return merged;
    if (merged.payload === existing.payload && sameMatches(merged, existing)) return existing;
    refuse(ctx, caller, 'register network service', `network service ${ns.name} exists and was not created by this caller; change it where it is managed (kubectl apply of its NetworkService)`);
  }

  async unregisterService(ctx: Ctx, name: string, existing: RegistryNetworkService | undefined): Promise<void> {
    const caller = this.#local(ctx, 'unregister network service');
    if (!caller || !existing) return;
    if (this.#services.get(name) !== caller.netns) refuse(ctx, caller, 'unregister network service', `network service ${name} was not created by this caller`);
    this.#services.delete(name);
  }

  /** The local caller, undefined for in-process calls; anyone else is refused. */
  #local(ctx: Ctx, action: string): Extract<Caller, { kind: 'local' }> | undefined {
    const caller = callerOf(ctx);
    if (caller.kind === 'in-process') return undefined;
    if (caller.kind !== 'local') refuse(ctx, caller, action, 'registrations are made on the forwarder\'s unix socket by an identified process of this node');
    return caller;
  }

  /**
   * `existing` is the live registration of `name`, if any: a name whose registration expired is
   * free, even when this forwarder did not see it go (another forwarder of a shared registry may
   * have swept it).
   */
  async #mayHold(ctx: Ctx, caller: Extract<Caller, { kind: 'local' }>, name: string, existing: NetworkServiceEndpoint | undefined, action: string): Promise<void> {
    const owner = existing ? this.#endpoints.get(name)?.netns ?? await this.#servedFrom(existing) : undefined;
    if (owner !== undefined && owner !== caller.netns) {
      refuse(ctx, caller, action, `endpoint ${name} is registered by network namespace ${netnsUrlOf(owner)}; only it may refresh or unregister it, and no one else may take the name while it is live`);
    }
  }

  /** The namespace serving a live registration's socket (unknown for other URLs, or a socket nobody serves). */
  async #servedFrom(nse: NetworkServiceEndpoint): Promise<string | undefined> {
    const socket = socketOf(nse.url);
    return socket === undefined ? undefined : (await this.#listeners.of(socket))?.netns;
  }
}
