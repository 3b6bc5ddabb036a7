import type { Connection } from '../../../proto/api.ts';
import { watchForwarder } from '../../nsc/forwarder-monitor.ts';
import { Onward, type OnwardOptions } from './onward.ts';

/**
 * The passthrough's onward connections, by the id of the incoming connection each serves, and the
 * one watch of the forwarder's monitor stream that heals them (the client's own, nsc/forwarder-monitor.ts).
 */
export class OnwardConnections {
  readonly #o: OnwardOptions;
  /** Read by the monitor watch at every event: the onward connections now. */
  readonly #all: Onward[] = [];
  readonly #stop = new AbortController();
  readonly #watch: Promise<void>;

  constructor(o: OnwardOptions) {
    this.#o = o;
    this.#watch = watchForwarder(o.dial, o.me, this.#all, o.log, this.#stop.signal);
  }

  get size(): number {
    return this.#all.length;
  }

  /** The onward connection of `incoming`, made now when it has none. */
  of(incoming: Connection): { onward: Onward; fresh: boolean } {
    const found = this.#find(incoming.id);
    if (found) return { onward: found, fresh: false };
    const onward = new Onward(this.#o, incoming);
    this.#all.push(onward);
    return { onward, fresh: true };
  }

  /** Closes the onward connection of incoming connection `id` and forgets it. */
  async close(id: string): Promise<void> {
    const onward = this.#find(id);
    if (!onward) return;
    this.#all.splice(this.#all.indexOf(onward), 1);
    await onward.close();
  }

  /** Stops healing; the onward connections stay for the next run of this passthrough, whose clients' refreshes carry their paths. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#watch;
    this.#o.dial.reset();
  }

  #find(id: string): Onward | undefined {
    return this.#all.find((o) => o.incomingId === id);
  }
}
