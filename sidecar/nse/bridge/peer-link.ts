import { createHash } from 'node:crypto';
import { Connection, ConnectionContext, kernelMechanism, type NetworkServiceRequest } from '../../../proto/api.ts';
import { toNsmError } from '../../../sdk/errors.ts';
import type { Logger } from '../../../sdk/log.ts';
import { systemClock } from '../../../sdk/retry.ts';
import { msUntilExpiry, requestWithRetry, type Dialer } from '../../nsc/client.ts';
import { BRIDGE_PEER_LABEL } from './labels.ts';

/** This bridge's port toward `peer`: named after the peer, so a restarted endpoint recognises it. */
export const linkIfname = (peer: string) => `nsmp${createHash('sha256').update(peer).digest('hex').slice(0, 11)}`;
export const isLinkIfname = (ifname: string) => /^nsmp[0-9a-f]{11}$/.test(ifname);

export interface PeerLinkOptions {
  /** This endpoint's name. */
  me: string;
  peer: string;
  service: string;
  netnsUrl: string;
  bridge: string;
  dial: Dialer;
  requestTimeoutMs: number;
  log: Logger;
  /** Called whenever the link came up or its MTU may have changed. */
  changed(): void;
}

/** A refresh that keeps failing this long is given up: the link is closed and asked for anew. */
const HEAL_AFTER_MS = 10_000;
const CLOSE_TIMEOUT_MS = 3000;

/**
 * One bridge-to-bridge link this endpoint asked for, as a client of its forwarder: pinned to the
 * peer endpoint, its end here an isolated port of this bridge (and the peer's end one of the
 * peer's: split horizon), refreshed at a third of the time left before it expires. A refresh that
 * keeps failing closes the link and asks for it again (healing); stop() closes it.
 */
export class PeerLink {
  readonly #o: PeerLinkOptions;
  readonly #stop = new AbortController();
  #conn: Connection | undefined;
  #loop: Promise<void> | undefined;

  constructor(o: PeerLinkOptions) {
    this.#o = o;
  }

  get peer(): string {
    return this.#o.peer;
  }

  get up(): boolean {
    return this.#conn !== undefined;
  }

  /** The link's MTU as the forwarders agreed it (0: the kernel's default, a veth on one node). */
  get mtu(): number {
    return this.#conn?.context?.MTU ?? 0;
  }

  start(): this {
    this.#loop ??= this.#keep();
    return this;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) await this.#close(conn);
  }

  #request(current: Connection | undefined): NetworkServiceRequest {
    const { me, peer, service, netnsUrl, bridge } = this.#o;
    const id = `${me}-${peer}`;
    const connection = current
      ? { ...current, path: { index: 0, pathSegments: current.path?.pathSegments ?? [] } }
      : Connection.fromPartial({
        id, networkService: service, networkServiceEndpointName: peer, labels: { [BRIDGE_PEER_LABEL]: me },
        context: ConnectionContext.fromPartial({}), path: { index: 0, pathSegments: [{ name: me, id }] },
      });
    return { connection, mechanismPreferences: [kernelMechanism({ name: linkIfname(peer), inodeURL: netnsUrl, bridge, isolated: true })] };
  }

  async #keep(): Promise<void> {
    const signal = this.#stop.signal;
    const { log, peer } = this.#o;
    while (!signal.aborted) {
      const current = this.#conn;
      try {
        this.#conn = await requestWithRetry(this.#o.dial, () => this.#request(current), {
          requestTimeoutMs: this.#o.requestTimeoutMs, deadline: Date.now() + HEAL_AFTER_MS, signal,
          onFailure: (e, attempt) => log.warn({ peer, attempt, code: e.code, err: e.message }, current ? 'refreshing the link to a peer bridge failed; retrying' : 'linking to a peer bridge failed; retrying'),
        });
      } catch {
        if (signal.aborted) return;
        if (current) {
          log.warn({ peer }, 'the link to a peer bridge keeps failing; closing it and asking for it again');
          this.#conn = undefined;
          await this.#close(current);
        }
        continue;
      }
      if (!current) log.info({ peer, mtu: this.mtu, connId: this.#conn.id }, 'linked to a peer bridge');
      this.#o.changed();
      await systemClock.sleep(Math.max(200, msUntilExpiry(this.#conn, 60_000) / 3), signal);
    }
  }

  async #close(conn: Connection): Promise<void> {
    try {
      await (await this.#o.dial.client(CLOSE_TIMEOUT_MS)).close(conn, { timeoutMs: CLOSE_TIMEOUT_MS });
    } catch (err) {
      this.#o.log.warn({ peer: this.#o.peer, err: toNsmError(err).message }, 'closing the link to a peer bridge failed; the forwarders remove it when it expires');
    }
  }
}
