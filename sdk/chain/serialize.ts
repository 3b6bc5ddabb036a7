/** Runs tasks one at a time per key, in arrival order; different keys run concurrently. */
export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const settled = result.then(() => {}, () => {});
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return result;
  }

  get activeKeys(): number {
    return this.#tails.size;
  }
}
