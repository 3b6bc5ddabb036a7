import { MonitorScopeSelector, type ConnectionEvent } from '../../proto/api.ts';
import { monitorConnections } from '../../sdk/grpc/monitor-client.ts';
import type { ChannelPool } from '../../sdk/grpc/channel-pool.ts';

export interface PeerRelayListener {
  /** An event of the peer's MonitorConnections stream (only connections through this forwarder). */
  event(url: string, e: ConnectionEvent): void;
  /** The stream ended: the channel to the peer broke. */
  lost(url: string): void;
}

/**
 * Upstream's monitor relay: one MonitorConnections stream to each peer forwarder this one has
 * connections through, selecting the paths that pass through this forwarder, on the channel the
 * requests use. Opened when a connection through the peer is made or refreshed; the peer's own
 * authorization shows a peer only what peers own.
 */
export class PeerRelay {
  readonly #streams = new Map<string, AbortController>();
  readonly #pool: ChannelPool;
  readonly #selector: MonitorScopeSelector;
  readonly #listener: PeerRelayListener;

  constructor(pool: ChannelPool, forwarderName: string, listener: PeerRelayListener) {
    this.#pool = pool;
    this.#selector = MonitorScopeSelector.fromPartial({ pathSegments: [{ name: forwarderName }] });
    this.#listener = listener;
  }

  get open(): number {
    return this.#streams.size;
  }

  ensure(url: string): void {
    if (this.#streams.has(url)) return;
    const stop = new AbortController();
    this.#streams.set(url, stop);
    void this.#run(url, stop);
  }

  async #run(url: string, stop: AbortController): Promise<void> {
    try {
      const client = await this.#pool.get(url);
      for await (const e of monitorConnections(client.channel, this.#selector, stop.signal)) this.#listener.event(url, e);
    } catch {
      // The stream ended with an error: the same as its end.
    }
    if (this.#streams.get(url) === stop) this.#streams.delete(url);
    if (!stop.signal.aborted) this.#listener.lost(url);
  }

  /** No connection goes through `url` any more. */
  close(url: string): void {
    this.#streams.get(url)?.abort();
    this.#streams.delete(url);
  }

  stop(): void {
    for (const url of [...this.#streams.keys()]) this.close(url);
  }
}
