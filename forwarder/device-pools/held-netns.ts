import { closeSync, openSync } from 'node:fs';
import type { Netns } from '../dataplane/runner.ts';

/**
 * A network namespace held open by a descriptor of this process, so it outlives every process
 * of its pod: a device lent into it can be moved back after the pod is gone (otherwise the kernel
 * destroys virtual devices with the namespace and sends physical ones to the initial namespace).
 * Its path, `/proc/<forwarder pid>/fd/<n>`, works for this process and for the `ip` it starts.
 */
export class HeldNetns {
  readonly netns: Netns;
  #fd: number | undefined;

  constructor(netns: Netns) {
    this.#fd = openSync(netns.path, 'r');
    this.netns = { path: `/proc/${process.pid}/fd/${this.#fd}`, key: netns.key };
  }

  release(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** The forwarder's own (node) namespace as a file other namespaces' sessions can open. */
export const nodeNetnsFile = () => `/proc/${process.pid}/ns/net`;
