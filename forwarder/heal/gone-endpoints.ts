import type { NetworkServiceEndpoint } from '../../proto/api.ts';

interface Mark {
  why: string;
  /** The registration's expiry when it was judged gone: a later one means it registered again. */
  expires: number;
}

const expiresOf = (nse: NetworkServiceEndpoint | undefined) => nse?.expirationTime?.getTime() ?? 0;

/**
 * Endpoints this forwarder judged gone (their namespace ended, their node stopped answering)
 * while their registration lives on until it expires: new requests skip them. An endpoint that
 * registers again (a later expiry) counts as alive at once.
 */
export class GoneEndpoints {
  readonly #names = new Map<string, Mark>();
  /** Peer URLs: every endpoint behind a forwarder that is gone. */
  readonly #peers = new Map<string, Mark>();

  get size(): number {
    return this.#names.size + this.#peers.size;
  }

  markEndpoint(nse: NetworkServiceEndpoint, why: string): void {
    this.#names.set(nse.name, { why, expires: expiresOf(nse) });
  }

  /** `registered`: the endpoints registered now, so that only later registrations behind `url` count as alive. */
  markPeer(url: string, why: string, registered: readonly NetworkServiceEndpoint[]): void {
    const expires = Math.max(0, ...registered.filter((e) => e.url === url).map(expiresOf));
    this.#peers.set(url, { why, expires });
  }

  /** Why `nse` is gone, or undefined when it is not known to be. */
  why(nse: NetworkServiceEndpoint): string | undefined {
    const expires = expiresOf(nse);
    const name = this.#names.get(nse.name);
    if (name && expires > name.expires) this.#names.delete(nse.name);
    else if (name) return name.why;
    const peer = this.#peers.get(nse.url);
    return peer && expires <= peer.expires ? peer.why : undefined;
  }

  /** The registration is gone too: nothing to remember. */
  unregistered(name: string, registered: readonly NetworkServiceEndpoint[]): void {
    this.#names.delete(name);
    for (const url of this.#peers.keys()) if (!registered.some((e) => e.url === url)) this.#peers.delete(url);
  }
}
