import { Keys, MechanismType, type Mechanism } from '../../proto/api.ts';

/** The client interface a KERNEL mechanism names: its namespace and name. */
export function interfaceOf(mechanisms: readonly (Mechanism | undefined)[]): string | undefined {
  const k = mechanisms.find((m) => m?.type === MechanismType.KERNEL && m.parameters[Keys.name] && m.parameters[Keys.inodeURL]);
  return k && `${k.parameters[Keys.inodeURL]}#${k.parameters[Keys.name]}`;
}

/**
 * Closes in progress by the client interface they remove. A connection's client end is removed
 * by its name, so a new connection that takes the same name in the same namespace (a client
 * reselecting after its endpoint died) is built only once the old one's Close is through:
 * otherwise that Close would remove the new interface.
 */
export class InterfaceCloses {
  readonly #pending = new Map<string, Promise<void>>();

  get size(): number {
    return this.#pending.size;
  }

  /** Runs `close`, recording it under `key` until it settles. */
  track(key: string | undefined, close: Promise<void>): Promise<void> {
    if (key === undefined) return close;
    const settled = close.then(() => {}, () => {});
    this.#pending.set(key, settled);
    void settled.then(() => {
      if (this.#pending.get(key) === settled) this.#pending.delete(key);
    });
    return close;
  }

  /** Resolves once no Close of `key` is in progress. */
  async free(key: string | undefined): Promise<void> {
    for (let p = key && this.#pending.get(key); p; p = this.#pending.get(key!)) await p;
  }
}
