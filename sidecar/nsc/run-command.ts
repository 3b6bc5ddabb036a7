import { Keys, type Connection, type NsUrl } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { toNsmError } from '../../sdk/errors.ts';
import type { Logger } from '../../sdk/log.ts';
import { retry, systemClock, type Attempt } from '../../sdk/retry.ts';
import {
  connectionId, firstRequest, msUntilExpiry, readConnection, refreshRequest, removeConnection, requestWithRetry, writeConnection, type Dialer,
} from './client.ts';
import { nscEnv } from './env.ts';
import { clientSetup } from './setup.ts';

/** After this many failed refreshes in a row the connection is closed and requested anew (another endpoint may serve it). */
const RESELECT_AFTER = 3;

interface Kept {
  url: NsUrl;
  index: number;
  conn?: Connection;
  /** The device-pool token the URL claims, if it names a resource. */
  token?: string;
}

/**
 * Keeps one connection alive: adopt (refresh what nsc init left), refresh at a third of the time
 * left before the earliest expiry on the path, heal by re-requesting with backoff, and reselect
 * after repeated failures.
 */
export async function keepAlive(k: Kept, d: Dialer, name: string, dir: string, requestTimeoutMs: number, log: Logger, signal: AbortSignal): Promise<void> {
  const refresh = async (a: Attempt): Promise<Connection> => {
    if (a.failures >= RESELECT_AFTER && k.conn) {
      log.warn({ connId: k.conn.id, service: k.url.service }, 'refresh keeps failing; closing and requesting the service again');
      await (await d.client().catch(() => undefined))?.close(k.conn, { timeoutMs: requestTimeoutMs }).catch(() => {});
      k.conn = undefined;
      a.reset();
    }
    const current = k.conn;
    k.conn = await requestWithRetry(d, () => (current ? refreshRequest(current, k.url, k.token) : firstRequest(k.url, k.index, name, k.token)), {
      requestTimeoutMs, deadline: Date.now() + requestTimeoutMs, signal,
    });
    await writeConnection(dir, k.url.ifname, k.conn);
    log.debug({ connId: k.conn.id, service: k.url.service }, 'refreshed');
    return k.conn;
  };
  let period = 5000;
  while (!signal.aborted) {
    try {
      const conn = await retry(refresh, {
        signal,
        // Never back off past a refresh period, so the connection is claimed before it expires.
        backoff: { floorMs: 400, capMs: Math.min(5000, period) },
        // Only refusals count toward reselecting: while the forwarder is unreachable (restarting),
        // the connection's interfaces stay in the kernel and the restarted forwarder adopts them on
        // the next refresh, so closing it then would only break it.
        decide: async () => ((await d.client(requestTimeoutMs).then(() => true, () => false)) ? 'retry' : 'retry-uncounted'),
        onFailure: (f) => log.warn({
          connId: connectionId(name, k.index), service: k.url.service, failures: f.failures, forwarderUp: f.counted, err: toNsmError(f.error).message,
        }, 'refresh failed; healing'),
      });
      period = Math.max(100, msUntilExpiry(conn, 60_000) / 3);
    } catch {
      return; // every failure is retried: only the signal ends the loop
    }
    await systemClock.sleep(period, signal);
  }
}

export default defineCommand({
  summary: 'keep the pod\'s connections alive (refresh, heal) and close them on shutdown',
  env: nscEnv,
  async run(config) {
    const { urls, name, log, dial: d, claims } = clientSetup(config, 'keep', 'nsc');
    const stop = new AbortController();
    const kept: Kept[] = await Promise.all(urls.map(async (url, index) => {
      const saved = await readConnection(config.NSM_CONNECTIONS_DIR, url.ifname);
      const conn = saved?.id === connectionId(name, index) ? saved : undefined;
      // The kubelet gives the token to the container that asked for the resource (nsc init's);
      // this one reads it from the connection nsc init wrote, to heal with it.
      const token = claims.tokens.get(index) ?? conn?.mechanism?.parameters[Keys.tokenID];
      return { url, index, conn, ...(token ? { token } : {}) };
    }));
    for (const k of kept) if (k.conn) log.info({ connId: k.conn.id, service: k.url.service }, 'adopting the connection nsc init made');
    const loops = kept.map((k) => keepAlive(k, d, name, config.NSM_CONNECTIONS_DIR, config.NSM_REQUEST_TIMEOUT, log, stop.signal));
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    stop.abort();
    await Promise.all(loops);
    await Promise.all(kept.map(async (k) => {
      if (!k.conn) return;
      try {
        await (await d.client()).close(k.conn, { timeoutMs: config.NSM_REQUEST_TIMEOUT });
        log.info({ connId: k.conn.id, service: k.url.service }, 'closed');
      } catch (err) {
        log.warn({ connId: k.conn.id, err: toNsmError(err).message }, 'close failed; the forwarder removes the connection when it expires');
      }
      await removeConnection(config.NSM_CONNECTIONS_DIR, k.url.ifname);
    }));
    d.reset();
    return 0;
  },
});
