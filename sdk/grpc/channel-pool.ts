import type { ChannelSecurity } from './client.ts';
import { NetworkServiceClient } from './networkservice-client.ts';

/** One channel per endpoint URL, shared by all connections to it; dropped when it fails. */
export class ChannelPool {
  readonly #clients = new Map<string, Promise<NetworkServiceClient>>();
  readonly #dialTimeoutMs: number;
  readonly #dial: ChannelSecurity;

  constructor(dialTimeoutMs: number, dial: ChannelSecurity = {}) {
    this.#dialTimeoutMs = dialTimeoutMs;
    this.#dial = dial;
  }

  get(url: string): Promise<NetworkServiceClient> {
    let c = this.#clients.get(url);
    if (!c) {
      c = NetworkServiceClient.dial(url, { ...this.#dial, dialTimeoutMs: this.#dialTimeoutMs });
      c.catch(() => this.#clients.delete(url));
      this.#clients.set(url, c);
    }
    return c;
  }

  drop(url: string): void {
    const c = this.#clients.get(url);
    this.#clients.delete(url);
    void c?.then((x) => x.shutdown(), () => {});
  }

  closeAll(): void {
    for (const url of [...this.#clients.keys()]) this.drop(url);
  }
}
