import { NetworkServiceEndpoint } from '../../../proto/api.ts';
import { toNsmError } from '../../../sdk/errors.ts';
import { dial } from '../../../sdk/grpc/client.ts';
import type { Logger } from '../../../sdk/log.ts';
import { RegistryClient } from '../../../sdk/registry/client.ts';
import { systemClock } from '../../../sdk/retry.ts';
import { dialer, type Dialer } from '../../nsc/client.ts';
import { BRIDGE_DOMAIN_LABEL } from './labels.ts';
import { PeerLink } from './peer-link.ts';

export interface DomainOptions {
  /** This endpoint's name. */
  me: string;
  domain: string;
  /** The service the bridges of the domain provide (the endpoint's first). */
  service: string;
  bridge: string;
  netnsUrl: string;
  connectTo: string;
  dialTimeoutMs: number;
  log: Logger;
  /** How often the registry is read once this endpoint is registered (default 2 s). */
  pollMs?: number;
}

const FIRST_POLL_MS = 100;
const FIND_TIMEOUT_MS = 5000;
const LINK_REQUEST_TIMEOUT_MS = 15_000;

/** Upstream vL3's order: earlier registration first, then the name. */
function before(a: NetworkServiceEndpoint, b: NetworkServiceEndpoint): boolean {
  const ta = a.initialRegistrationTime?.getTime() ?? 0;
  const tb = b.initialRegistrationTime?.getTime() ?? 0;
  return ta !== tb ? ta < tb : a.name < b.name;
}

/**
 * This bridge's part in its domain (NSM_BRIDGE_DOMAIN): a full mesh with one link per pair of
 * bridges, by upstream vL3's rule: each bridge asks for a link to every bridge of the domain that
 * registered before it, and answers the links of those that registered after it. The registry is
 * read through the forwarder every few seconds: a bridge that registers later links itself to this
 * one; a bridge that goes away loses its link (closed here when this one asked for it, by the peer
 * or on expiry otherwise). The domain's MTU, as this bridge sees it, is the smallest of its links'.
 */
export class BridgeDomain {
  readonly #o: DomainOptions;
  readonly #dial: Dialer;
  readonly #stop = new AbortController();
  /** Links this bridge asked for, by peer. */
  readonly #links = new Map<string, PeerLink>();
  /** Links peers asked for, by this endpoint's connection id. */
  readonly #incoming = new Map<string, { peer: string; mtu: number }>();
  /** The other bridges of the domain in the last registry read; undefined until this one was seen registered. */
  #registered: ReadonlySet<string> | undefined;
  readonly #waiting = new Set<() => void>();
  #registry: RegistryClient | undefined;
  #loop: Promise<void> | undefined;

  constructor(o: DomainOptions) {
    this.#o = o;
    this.#dial = dialer(o.connectTo, o.dialTimeoutMs);
  }

  /** The forwarder to ask links of (shared by every link). */
  get dial(): Dialer {
    return this.#dial;
  }

  start(): this {
    this.#loop ??= this.#watch();
    return this;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await Promise.all([...this.#links.values()].map((l) => l.stop()));
    this.#links.clear();
    this.#registry?.channel.close();
    this.#dial.reset();
    for (const w of this.#waiting) w();
  }

  /** A peer's link reached this endpoint (a later bridge asked for it). */
  linkedFrom(connId: string, peer: string, mtu: number): void {
    const fresh = !this.#incoming.has(connId);
    this.#incoming.set(connId, { peer, mtu });
    if (fresh) this.#o.log.info({ peer, mtu }, 'a peer bridge linked itself to this one');
    this.#changed();
  }

  /** Whether `connId` was a peer's link (now forgotten). */
  unlinked(connId: string): boolean {
    return this.#incoming.delete(connId);
  }

  /** The smallest MTU of this bridge's links; 0 when none has one (veth links on one node take the kernel's default). */
  get mtu(): number {
    const mtus = [...[...this.#links.values()].map((l) => l.mtu), ...[...this.#incoming.values()].map((l) => l.mtu)].filter((m) => m > 0);
    return mtus.length > 0 ? Math.min(...mtus) : 0;
  }

  /** The peers this bridge has a link with, either way. */
  get linked(): ReadonlySet<string> {
    return new Set([...[...this.#links.values()].filter((l) => l.up).map((l) => l.peer), ...[...this.#incoming.values()].map((l) => l.peer)]);
  }

  #isSettled(): boolean {
    if (!this.#registered) return false;
    const linked = this.linked;
    return [...this.#registered].every((p) => linked.has(p));
  }

  /** Resolves once this bridge is registered and linked with every bridge of the domain registered now, or after `limitMs`. */
  settled(limitMs: number): Promise<boolean> {
    if (this.#isSettled()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        if (!this.#isSettled() && !this.#stop.signal.aborted) return;
        clearTimeout(timer);
        this.#waiting.delete(done);
        resolve(this.#isSettled());
      };
      const timer = setTimeout(() => {
        this.#waiting.delete(done);
        resolve(false);
      }, limitMs);
      this.#waiting.add(done);
    });
  }

  #changed(): void {
    for (const w of [...this.#waiting]) w();
  }

  async #watch(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.#read(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#o.log.warn({ err: toNsmError(err).message, connectTo: this.#o.connectTo }, 'reading the bridges of the domain failed; trying again');
        this.#registry?.channel.close();
        this.#registry = undefined;
      }
      await systemClock.sleep(this.#registered ? (this.#o.pollMs ?? 2000) : FIRST_POLL_MS, signal);
    }
  }

  /** One read of the registry: links to bridges registered before this one, none to bridges that went away. */
  async #read(signal: AbortSignal): Promise<void> {
    const { me, service, domain, log } = this.#o;
    this.#registry ??= new RegistryClient(await dial(this.#o.connectTo, { dialTimeoutMs: this.#o.dialTimeoutMs, signal }));
    const query = NetworkServiceEndpoint.fromPartial({ networkServiceNames: [service], networkServiceLabels: { [service]: { labels: { [BRIDGE_DOMAIN_LABEL]: domain } } } });
    const bridges = await this.#registry.endpointsNow(query, { timeoutMs: FIND_TIMEOUT_MS, signal });
    const self = bridges.find((b) => b.name === me);
    if (!self) return; // not registered yet
    const peers = bridges.filter((b) => b.name !== me);
    const earlier = new Set(peers.filter((p) => before(p, self)).map((p) => p.name));
    for (const peer of earlier) {
      if (this.#links.has(peer)) continue;
      log.info({ peer, domain }, 'a bridge of the domain registered before this one; linking to it');
      this.#links.set(peer, new PeerLink({
        me, peer, service, netnsUrl: this.#o.netnsUrl, bridge: this.#o.bridge, dial: this.#dial,
        requestTimeoutMs: LINK_REQUEST_TIMEOUT_MS, log, changed: () => this.#changed(),
      }).start());
    }
    for (const [peer, link] of this.#links) {
      if (earlier.has(peer)) continue;
      log.info({ peer, domain }, 'a peer bridge left the domain; closing the link to it');
      this.#links.delete(peer);
      void link.stop();
    }
    this.#registered = new Set(peers.map((p) => p.name));
    this.#changed();
  }
}
