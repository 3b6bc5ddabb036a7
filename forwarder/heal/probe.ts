import { connect } from 'node:net';
import { parseAddress } from '../../sdk/grpc/address.ts';

/**
 * What a connection attempt to `url` says about the far side:
 * - `serving`: something accepted it;
 * - `refused`: the host answered, nothing listens (a forwarder restarting on a live node);
 * - `silent`: no answer within `timeoutMs`, or no route to the host (the node is gone).
 * Rejects with the signal's reason once it aborts.
 */
export type ProbeResult = 'serving' | 'refused' | 'silent';

export function probe(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const a = parseAddress(url);
  return new Promise((resolve, reject) => {
    const socket = a.kind === 'unix' ? connect(a.path) : connect({ host: a.host.replace(/^\[(.*)\]$/, '$1'), port: a.port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.destroy();
      resolve(r);
    };
    const aborted = () => {
      clearTimeout(timer);
      socket.destroy();
      reject(signal!.reason);
    };
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', aborted, { once: true });
    const timer = setTimeout(() => done('silent'), timeoutMs);
    socket.once('connect', () => done('serving'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'refused' : 'silent'));
  });
}
