import { existsSync } from 'node:fs';
import { ConnectionEventType, State, type Connection, type ConnectionEvent, type NetworkServiceEndpoint, type NetworkServiceRequest } from '../../proto/api.ts';
import { eventFactory } from '../../sdk/chain/begin.ts';
import type { Ctx } from '../../sdk/chain/types.ts';
import type { Monitor } from '../../sdk/elements/monitor.ts';
import { NsmError, toNsmError } from '../../sdk/errors.ts';
import { whenDisconnected } from '../../sdk/grpc/client.ts';
import type { Logger } from '../../sdk/log.ts';
import type { Change, RegistryBackend } from '../../sdk/registry/types.ts';
import { callerOf, netnsUrlOf } from '../authz/caller.ts';
import type { EndpointIdentities } from '../authz/endpoint-answer.ts';
import type { NetnsResolver } from '../dataplane/netns-resolver.ts';
import { DOOMED_LINK_GROUP, ownerPrefix } from '../dataplane/veth.ts';
import type { Counter } from 'prom-client';
import type { ChannelPool } from '../../sdk/grpc/channel-pool.ts';
import { chosenEndpointKey } from '../elements/roundrobin.ts';
import type { Locality } from '../remote/local-bypass.ts';
import { GoneEndpoints } from './gone-endpoints.ts';
import { interfaceOf, InterfaceCloses } from './interface-closes.ts';
import { KernelEvents, type KernelNews } from './kernel-events.ts';
import { PeerRelay } from './peer-relay.ts';
import { probe } from './probe.ts';
import { WatchedConnections, type Target, type Watched } from './watched.ts';

export interface HealerOptions {
  /** The forwarder's name: owner of its link aliases, its segment on paths through peers. */
  name: string;
  monitor: Monitor;
  resolver: NetnsResolver;
  identities: EndpointIdentities;
  /** The registry as the chain reads it. */
  registry: RegistryBackend;
  /** Where an endpoint runs (with peering); without it every endpoint is local. */
  locality?: (nse: NetworkServiceEndpoint) => Locality;
  localPool: ChannelPool;
  peerPool?: ChannelPool;
  log: Logger;
  /** How long a peer forwarder's node may take to answer a connection attempt before it counts as gone (default 500 ms). */
  probeTimeoutMs?: number;
  /** Listen to the kernel's link and namespace events (default true). */
  kernelEvents?: boolean;
  /** Counts each heal by its cause (endpoint-gone, client-gone, path-broken, path-impaired). */
  heals?: Counter<'cause'>;
}

/** What a check of a connection's far side found: which end is gone, and why. */
interface Verdict {
  gone?: 'client' | 'endpoint';
  why: string;
  /** The endpoint's node does not answer. */
  silentPeer?: boolean;
  /** The endpoint process cannot answer any more (its namespace or its node is gone): the Close does not call it. */
  endpointDead?: boolean;
}

/** Why the Close of a connection whose endpoint is dead does not call it (its signal is aborted with this). */
const ENDPOINT_DEAD = 'the endpoint is gone';
/** How long the Close of a connection closed for its client or its endpoint's registration waits on the far side. */
const CLOSE_LIMIT_MS = 5000;

/**
 * Healing at the forwarder: it learns as it happens that an endpoint or a data path is gone and
 * tells the connection's client through MonitorConnections, which `nsm nsc run` watches.
 *
 * Events: the kernel removed a link of a connection or a namespace ended (KernelEvents); an
 * endpoint's channel dropped; a peer forwarder's monitor stream ended or reported a change
 * (PeerRelay); the registry deleted an endpoint; a refresh failed with UNAVAILABLE.
 *
 * Each is judged by looking at the far side: a namespace at either end no longer held by any
 * process, or a peer forwarder's node that does not answer at all, means that end is gone.
 * - endpoint gone: the connection is closed and DELETE sent at once (the client reselects); the
 *   endpoint is skipped by new requests until it registers again;
 * - client gone: the connection is closed;
 * - both ends live, an interface removed: UPDATE with state DOWN, and the next Request builds
 *   the data path again to the same endpoint (same addresses, same interface name);
 * - both ends live, a channel lost (an endpoint process or a peer forwarder restarting): UPDATE
 *   with state DOWN; the data path is intact in the kernel, the client keeps refreshing.
 */
export class Healer {
  readonly watched = new WatchedConnections();
  readonly gone = new GoneEndpoints();
  /** Closes in progress by the client interface they remove (see InterfaceCloses). */
  readonly closes = new InterfaceCloses();
  readonly #o: HealerOptions;
  readonly #kernel: KernelEvents;
  readonly #relay: PeerRelay | undefined;
  readonly #channels = new WeakSet<object>();
  readonly #probeMs: number;
  #unwatchRegistry: (() => void) | undefined;

  constructor(o: HealerOptions) {
    this.#o = o;
    this.#probeMs = o.probeTimeoutMs ?? 500;
    this.#kernel = new KernelEvents(o.log, (news) => this.#onKernel(news));
    this.#relay = o.peerPool && new PeerRelay(o.peerPool, o.name, { event: (url, e) => this.#onPeerEvent(url, e), lost: (url) => void this.#onPeerLost(url) });
  }

  /** Namespaces the kernel events cover, and open peer streams (for tests of what is left). */
  get watching(): { namespaces: number; peerStreams: number } {
    return { namespaces: this.#kernel.watching, peerStreams: this.#relay?.open ?? 0 };
  }

  async start(): Promise<void> {
    if (this.#o.kernelEvents ?? true) await this.#kernel.start();
    this.#unwatchRegistry = this.#o.registry.endpoints.watch((c) => this.#onRegistry(c));
  }

  async stop(): Promise<void> {
    this.#unwatchRegistry?.();
    this.#relay?.stop();
    await this.#kernel.stop();
  }

  /** After a successful Request: watch the connection (a refresh keeps what was found). */
  async record(ctx: Ctx, resp: Connection): Promise<void> {
    const endpoint = chosenEndpointKey.get(ctx);
    if (!endpoint) return;
    const events = eventFactory(ctx);
    const had = this.watched.get(resp.id);
    if (had && had.endpoint.name === endpoint.name) {
      Object.assign(had, { conn: resp, events, endpoint, down: undefined });
      this.#followFarSide(had);
      return;
    }
    const caller = callerOf(ctx);
    const remote = caller.kind !== 'peer' && this.#o.locality?.(endpoint) === 'remote';
    const w: Watched = {
      id: resp.id, conn: resp, events, endpoint,
      clientNetns: caller.kind === 'local' ? caller.netns : undefined,
      endpointNetns: remote ? undefined : (await this.#o.identities.of(endpoint))?.netns,
      peer: remote ? endpoint.url : undefined,
    };
    this.watched.put(w);
    await this.#watchNamespaces(w);
    this.#followFarSide(w);
  }

  /** The connection is being closed by its chain. */
  forget(id: string): void {
    const w = this.watched.delete(id);
    if (w?.peer && this.watched.viaPeer(w.peer).length === 0) this.#relay?.close(w.peer);
  }

  /** The connection if its data path must be built again; it is no longer watched (its Close follows). */
  takeBroken(id: string): Watched | undefined {
    const w = this.watched.get(id);
    if (!w?.broken || w.closing) return undefined;
    this.forget(id);
    return w;
  }

  /**
   * Why `nse` cannot serve a request now, or undefined when it may: judged gone (`gone`), or a
   * local endpoint whose process is not running (it crashed or was killed; it may come back).
   */
  async notLive(nse: NetworkServiceEndpoint): Promise<{ gone: boolean; why: string } | undefined> {
    const gone = this.gone.why(nse);
    if (gone) return { gone: true, why: gone };
    if (this.#o.locality?.(nse) === 'remote') return undefined;
    const who = await this.#o.identities.of(nse);
    if (who && existsSync(`/proc/${who.pid}`)) return undefined;
    return { gone: false, why: `endpoint ${nse.name} is not running${who ? ` (its process ${who.pid} ended)` : ` (nothing serves ${nse.url})`}` };
  }

  /**
   * Before a Request of a connection whose far side stopped answering: when it still does not
   * (nothing serves the endpoint's socket, the peer forwarder refuses), fail at once instead of
   * waiting out the dial timeout; when it turns out to be gone, close the connection and say so.
   */
  async checkFarSide(ctx: Ctx, id: string): Promise<void> {
    const w = this.watched.get(id);
    if (!w?.down || w.closing) return;
    const answer = await probe(w.peer ?? w.endpoint.url, this.#probeMs, ctx.signal);
    if (answer === 'serving') return;
    const v = await this.#assess(w, ctx.signal);
    if (v.gone) {
      this.#close(w, v);
      throw new NsmError('NOT_FOUND', `${v.why}; request the network service again to reach another endpoint`);
    }
    throw new NsmError('UNAVAILABLE', `${w.down}; the connection is kept (its data path is in the kernel) and refreshed once it answers again`);
  }

  /**
   * The error a failed Request answers with: when the far side did not answer (UNAVAILABLE) and
   * turns out to be gone, the connection is closed and the answer says so (NOT_FOUND), so the
   * client reselects at once; otherwise the failure as it was.
   */
  async failed(ctx: Ctx, req: NetworkServiceRequest, err: unknown): Promise<unknown> {
    const e = toNsmError(err);
    const conn = req.connection!;
    if (e.code !== 'UNAVAILABLE' || ctx.signal.aborted) return err;
    const w = this.watched.get(conn.id);
    const target = w ?? this.#targetOf(conn);
    if (!target || w?.closing) return err;
    const v: Verdict = await this.#assess(target, ctx.signal).catch(() => ({ why: 'the caller gave up' }));
    if (!v.gone) return err;
    if (w) this.#close(w, v);
    else this.#markGone(target, v);
    return new NsmError('NOT_FOUND', `${v.why}; request the network service again to reach another endpoint`, { cause: e });
  }

  /** A fresh Request naming a remote endpoint (its client missed the DELETE): the peer is what can be checked. */
  #targetOf(conn: Connection): Target | undefined {
    const endpoint = conn.networkServiceEndpointName ? this.#o.registry.endpoints.get(conn.networkServiceEndpointName) : undefined;
    if (!endpoint || this.#o.locality?.(endpoint) !== 'remote') return undefined;
    return { endpoint, peer: endpoint.url };
  }

  async #watchNamespaces(w: Watched, again = false): Promise<void> {
    for (const key of [w.clientNetns, w.endpointNetns]) {
      if (key === undefined) continue;
      const netns = await this.#o.resolver.find(netnsUrlOf(key)).catch(() => undefined);
      if (netns) this.#kernel.watch(netns, again);
    }
  }

  /** Follows the channel to a local endpoint, or the monitor stream of the peer forwarder. */
  #followFarSide(w: Watched): void {
    if (w.peer) return this.#relay?.ensure(w.peer);
    const url = w.endpoint.url;
    void this.#o.localPool.get(url).then((client) => {
      if (this.#channels.has(client)) return;
      this.#channels.add(client);
      whenDisconnected(client.channel, () => {
        this.#channels.delete(client);
        void this.#onEndpointChannelLost(url);
      });
    }, () => {});
  }

  async #alive(netnsKey: string): Promise<boolean> {
    return (await this.#o.resolver.find(netnsUrlOf(netnsKey)).catch(() => undefined)) !== undefined;
  }

  async #assess(t: Target, signal?: AbortSignal): Promise<Verdict> {
    if (t.clientNetns && !(await this.#alive(t.clientNetns))) return { gone: 'client', why: `the client's network namespace ${netnsUrlOf(t.clientNetns)} is gone` };
    if (t.endpointNetns && !(await this.#alive(t.endpointNetns))) return { gone: 'endpoint', why: `endpoint ${t.endpoint.name} is gone: its network namespace no longer exists`, endpointDead: true };
    if (t.peer && (await probe(t.peer, this.#probeMs, signal)) === 'silent') {
      return { gone: 'endpoint', why: `endpoint ${t.endpoint.name} is gone: its node does not answer (forwarder ${t.peer})`, silentPeer: true, endpointDead: true };
    }
    return { why: 'both ends are alive' };
  }

  #markGone(t: Target, v: Verdict): void {
    if (v.gone !== 'endpoint') return;
    this.gone.markEndpoint(this.#o.registry.endpoints.get(t.endpoint.name) ?? t.endpoint, v.why);
    if (v.silentPeer && t.peer) this.gone.markPeer(t.peer, v.why, this.#o.registry.endpoints.list());
  }

  /** Closes a connection whose far side is gone: DELETE now, the Close through the chain after. */
  #close(w: Watched, v: Verdict): void {
    if (w.closing) return;
    w.closing = true;
    this.#markGone(w, v);
    this.#o.heals?.inc({ cause: v.gone === 'endpoint' ? 'endpoint-gone' : 'client-gone' });
    this.#o.log.info({ connId: w.id, endpoint: w.endpoint.name, reason: v.why }, v.gone === 'endpoint' ? 'endpoint gone: closing the connection so that its client reselects' : 'client gone: closing its connection');
    this.#o.monitor.closing(w.id);
    // A Close with an aborted signal removes this node's part and does not call the dead far
    // side. It is tracked from now, not from when it gets its turn: a new connection for the
    // client's interface name must wait for it.
    const closed = w.events.close({ signal: v.endpointDead ? AbortSignal.abort(ENDPOINT_DEAD) : AbortSignal.timeout(CLOSE_LIMIT_MS) });
    void this.closes.track(interfaceOf([w.conn.mechanism]), closed).catch((err: unknown) => {
      this.#o.log.warn({ connId: w.id, err: toNsmError(err).message }, 'closing a connection whose far side is gone failed; what is left expires');
    });
  }

  #down(w: Watched, why: string, rebuild: boolean): void {
    if (w.closing) return;
    if (rebuild) w.broken = why;
    else w.down = why;
    this.#o.heals?.inc({ cause: rebuild ? 'path-broken' : 'path-impaired' });
    this.#o.log.info({ connId: w.id, endpoint: w.endpoint.name, reason: why }, rebuild ? 'data path broken, both ends alive: telling the client, the next request builds it again' : 'path impaired, both ends alive: telling the client');
    this.#o.monitor.down(w.id);
  }

  /** Checks the far side after an event; `ifAlive` is what the event means when both ends live. */
  async #judge(w: Watched, why: string, ifAlive: 'rebuild' | 'down' | 'nothing'): Promise<void> {
    if (w.closing) return;
    const v = await this.#assess(w);
    if (this.watched.get(w.id) !== w || w.closing) return;
    if (v.gone) return this.#close(w, { ...v, why: `${v.why} (${why})` });
    if (ifAlive === 'nothing') return this.#watchNamespaces(w, true);
    this.#down(w, why, ifAlive === 'rebuild');
  }

  #onKernel(news: KernelNews): void {
    if (news.kind === 'link-gone') {
      const prefix = ownerPrefix(this.#o.name);
      if (news.group === DOOMED_LINK_GROUP || !news.alias.startsWith(prefix)) return;
      const w = this.watched.get(news.alias.slice(prefix.length));
      if (w) void this.#judge(w, `interface ${news.ifname} was removed`, 'rebuild');
      return;
    }
    const affected = news.kind === 'netns-gone' ? this.watched.inNetns(news.netns) : this.watched.all();
    for (const w of affected) void this.#judge(w, news.kind === 'netns-gone' ? 'a network namespace of it ended' : 'kernel events were lost', 'nothing');
  }

  #onRegistry(c: Change<NetworkServiceEndpoint>): void {
    if (c.kind !== 'delete') return;
    for (const w of this.watched.ofEndpoint(c.name)) this.#close(w, { gone: 'endpoint', why: `endpoint ${c.name} is gone: its registration was removed` });
    this.gone.unregistered(c.name, this.#o.registry.endpoints.list());
  }

  async #onEndpointChannelLost(url: string): Promise<void> {
    const affected = this.watched.atLocalUrl(url);
    if (affected.length === 0 || (await probe(url, this.#probeMs)) === 'serving') return;
    // The next call dials afresh, bounded by the dial timeout, instead of waiting on a dead channel.
    this.#o.localPool.drop(url);
    for (const w of affected) void this.#judge(w, `endpoint ${w.endpoint.name} stopped serving ${url}`, 'down');
  }

  async #onPeerLost(url: string): Promise<void> {
    const affected = this.watched.viaPeer(url);
    if (affected.length === 0) return;
    this.#o.peerPool?.drop(url);
    const answer = await probe(url, this.#probeMs);
    for (const w of affected) {
      if (this.watched.get(w.id) !== w) continue;
      if (answer === 'silent') this.#close(w, { gone: 'endpoint', why: `endpoint ${w.endpoint.name} is gone: its node does not answer (forwarder ${url})`, silentPeer: true, endpointDead: true });
      else this.#down(w, `lost the channel to the forwarder at ${url}`, false);
    }
  }

  #onPeerEvent(url: string, e: ConnectionEvent): void {
    const mine = (c: Connection) => c.path?.pathSegments.find((s) => s.name === this.#o.name)?.id;
    const seen = new Set<string>();
    for (const c of Object.values(e.connections)) {
      const id = mine(c);
      const w = id === undefined ? undefined : this.watched.get(id);
      if (!w || w.peer !== url) continue;
      seen.add(w.id);
      if (e.type === ConnectionEventType.DELETE) this.#close(w, { gone: 'endpoint', why: `endpoint ${w.endpoint.name} is gone: its node closed the connection` });
      else if (c.state === State.DOWN) this.#down(w, `the path beyond ${url} is down`, false);
    }
    if (e.type !== ConnectionEventType.INITIAL_STATE_TRANSFER) return;
    for (const w of this.watched.viaPeer(url)) if (!seen.has(w.id)) this.#down(w, `the forwarder at ${url} does not know the connection`, false);
  }
}
