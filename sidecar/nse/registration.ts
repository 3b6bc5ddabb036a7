import { NetworkServiceEndpoint, RegistryNetworkService } from '../../proto/api.ts';
import { toNsmError } from '../../sdk/errors.ts';
import { dial, whenDisconnected } from '../../sdk/grpc/client.ts';
import { RegistryClient } from '../../sdk/registry/client.ts';
import { retry, systemClock, Wakeup, type Clock } from '../../sdk/retry.ts';
import type { EndpointOptions } from './options.ts';

/** What the endpoint registers: each of its services with the endpoint's labels (the mode's included). */
export function endpointRegistration(o: EndpointOptions): NetworkServiceEndpoint {
  const labels = o.labels;
  return NetworkServiceEndpoint.fromPartial({
    name: o.name,
    networkServiceNames: o.services,
    networkServiceLabels: Object.fromEntries(o.services.map((s) => [s, { labels }])),
    url: o.listenOn,
  });
}

/**
 * idle: not started. registering: a call to the forwarder is out. registered: waiting to refresh.
 * waiting: the last attempt failed; waiting to retry. stopped: stop() was called.
 */
export type RegistrationState = 'idle' | 'registering' | 'registered' | 'waiting' | 'stopped';

export interface RegistrationDeps {
  clock?: Clock;
  dial?: typeof dial;
}

const RETRY_MS = 1000;
const CALL_TIMEOUT_MS = 5000;
const UNREGISTER_TIMEOUT_MS = 3000;

/**
 * Keeps the endpoint (and its services) registered through the forwarder, refreshed at a third of
 * its lifetime; a failed attempt is retried every second. When the channel to the forwarder drops (a
 * forwarder restart), it registers again as soon as the forwarder answers, since a restarted
 * forwarder knows this endpoint's socket only from a registration. The services are registered once
 * per channel, not on every refresh: a refresh must not overwrite what was changed on the
 * NetworkService since (e.g. its matches).
 */
export class EndpointRegistration {
  /** Settles once the endpoint was registered the first time (never, if stopped before). */
  readonly ready: Promise<void>;
  readonly #o: EndpointOptions;
  readonly #nse: NetworkServiceEndpoint;
  readonly #clock: Clock;
  readonly #dial: typeof dial;
  readonly #stop = new AbortController();
  readonly #wakeup = new Wakeup();
  readonly #registered: () => void;
  #state: RegistrationState = 'idle';
  #loop: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #client: RegistryClient | undefined;
  #unwatch: (() => void) | undefined;
  #servicesOn: RegistryClient | undefined;

  constructor(o: EndpointOptions, deps: RegistrationDeps = {}) {
    this.#o = o;
    this.#nse = endpointRegistration(o);
    this.#clock = deps.clock ?? systemClock;
    this.#dial = deps.dial ?? dial;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.ready = promise;
    this.#registered = resolve;
  }

  get state(): RegistrationState {
    return this.#state;
  }

  start(): this {
    if (this.#state === 'idle') this.#loop = this.#keep();
    return this;
  }

  /** Ends the loop (a call in flight is cancelled), then unregisters and closes the channel. */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutDown();
    return this.#stopped;
  }

  async #shutDown(): Promise<void> {
    const started = this.#state !== 'idle';
    this.#state = 'stopped';
    this.#stop.abort();
    await this.#loop;
    if (!started) return;
    this.#unwatch?.();
    try {
      this.#client ??= new RegistryClient(await this.#dial(this.#o.connectTo, { dialTimeoutMs: this.#o.dialTimeoutMs }));
      await this.#client.unregisterEndpoint(this.#nse, { timeoutMs: UNREGISTER_TIMEOUT_MS });
    } catch (err) {
      this.#o.log.warn({ err: toNsmError(err).message }, 'unregistering failed; the registration expires on its own');
    }
    this.#dropClient();
  }

  async #keep(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const refreshInMs = await retry(() => this.#register(signal), {
        signal, clock: this.#clock, wakeup: this.#wakeup, backoff: { floorMs: RETRY_MS, capMs: RETRY_MS },
        onFailure: (f) => {
          this.#o.log.warn({ err: toNsmError(f.error).message, connectTo: this.#o.connectTo }, 'registering the endpoint failed; retrying');
          this.#dropClient();
          this.#enter('waiting');
        },
      }).catch(() => undefined); // every failure is retried: only stop() ends the loop
      if (refreshInMs === undefined) return;
      this.#enter('registered');
      this.#registered();
      await this.#wakeup.sleep(refreshInMs, signal, this.#clock);
    }
  }

  /** One registration; resolves with the time until the next refresh. */
  async #register(signal: AbortSignal): Promise<number> {
    this.#enter('registering');
    // This attempt's client: a lost channel may drop the shared one while a call is out.
    const c = this.#client ?? (await this.#connect(signal));
    if ((this.#o.registerServices ?? true) && this.#servicesOn !== c) {
      for (const s of this.#o.services) {
        await c.registerService(RegistryNetworkService.fromPartial({ name: s, payload: this.#o.payload }), { timeoutMs: CALL_TIMEOUT_MS, signal });
      }
      this.#servicesOn = c;
    }
    const registered = await c.registerEndpoint(this.#nse, { timeoutMs: CALL_TIMEOUT_MS, signal });
    const left = (registered.expirationTime?.getTime() ?? Date.now() + 60_000) - Date.now();
    return Math.max(200, left / 3);
  }

  async #connect(signal: AbortSignal): Promise<RegistryClient> {
    const c = new RegistryClient(await this.#dial(this.#o.connectTo, { dialTimeoutMs: this.#o.dialTimeoutMs, signal }));
    this.#client = c;
    this.#unwatch = whenDisconnected(c.channel, this.#lost);
    return c;
  }

  readonly #lost = (): void => {
    this.#o.log.info({ connectTo: this.#o.connectTo }, 'lost the connection to the forwarder; registering again once it answers');
    this.#dropClient();
    this.#wakeup.wake();
  };

  #dropClient(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#client?.channel.close();
    this.#client = undefined;
  }

  /** Moves to `state` unless stopped, which is final. */
  #enter(state: RegistrationState): void {
    if (this.#state !== 'stopped') this.#state = state;
  }
}
