import type { Connection } from '../../proto/api.ts';
import { toNsmError, type NsmError } from '../../sdk/errors.ts';
import type { Logger } from '../../sdk/log.ts';
import { retry, type Attempt, type Failure } from '../../sdk/retry.ts';
import { firstRequest, msUntilExpiry, refreshRequest, requestOnce, writeConnection, type Dialer } from './client.ts';
import { wakeOnRegistration } from './endpoint-watch.ts';
import type { KeptConnection } from './kept-connection.ts';

/** After this many refused refreshes in a row the connection is closed and requested anew (another endpoint may serve it). */
const RESELECT_AFTER = 3;

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : `${(ms / 1000).toFixed(1)} s`);

/**
 * Keeps one connection alive: adopt (refresh what nsc init left), refresh at a third of the time
 * left before the earliest expiry on the path, and heal:
 * - at once when the forwarder's monitor stream asks (forwarder-monitor.ts): a refresh for a path
 *   that is down, a reselect (same id and interface name, another endpoint if the forwarder finds
 *   one) for a connection it closed;
 * - a refresh answered NOT_FOUND (the endpoint is gone) reselects at once;
 * - UNAVAILABLE (the forwarder, or the endpoint or peer behind it, did not answer: restarting)
 *   is retried at the same pace without counting: the interfaces stay in the kernel meanwhile;
 * - other refusals back off, and after RESELECT_AFTER in a row the connection is closed and
 *   requested anew.
 * While no endpoint serves the service, the registry is watched so that the next attempt starts
 * as soon as one registers. Every answer is written to the connection file.
 */
export async function keepAlive(k: KeptConnection, d: Dialer, name: string, dir: string, requestTimeoutMs: number, log: Logger, signal: AbortSignal): Promise<void> {
  const id = k.id;
  let waitingForEndpoint: AbortController | undefined;
  const stopWaiting = () => {
    waitingForEndpoint?.abort();
    waitingForEndpoint = undefined;
  };
  let lost = false;

  const attempt = async (a: Attempt): Promise<Connection> => {
    const action = k.take();
    if (action === 'reselect' && k.conn) {
      k.conn = undefined;
      lost = true;
      a.reset();
    } else if (a.failures >= RESELECT_AFTER && k.conn) {
      log.warn({ connId: id, service: k.url.service }, 'refresh keeps failing; closing and requesting the service again');
      k.broken('refresh-refused');
      await (await d.client().catch(() => undefined))?.close(k.conn, { timeoutMs: requestTimeoutMs }).catch(() => {});
      k.conn = undefined;
      lost = true;
      a.reset();
    }
    const current = k.conn;
    const conn = await requestOnce(d, current ? refreshRequest(current, k.url, k.token) : firstRequest(k.url, k.id, name, k.token), requestTimeoutMs, k.attemptSignal(signal));
    stopWaiting();
    k.answered(conn);
    await writeConnection(dir, k.url.ifname, conn);
    if (lost) log.info({ connId: id, service: k.url.service, endpoint: conn.networkServiceEndpointName, addresses: conn.context?.ipContext?.srcIpAddrs }, 'healed: connected again');
    else log.debug({ connId: id, service: k.url.service }, 'refreshed');
    lost = false;
    return conn;
  };

  const decide = async (error: unknown) => {
    if (k.reselecting) return 'retry-uncounted';
    const e = toNsmError(error);
    if (e.code === 'NOT_FOUND' && k.conn) k.heal('reselect', 'endpoint-not-found');
    // Only refusals count toward reselecting: while the forwarder (or the endpoint or peer
    // forwarder behind it) does not answer, the connection's interfaces stay in the kernel and
    // it is refreshed once they are back, so closing it then would only break it.
    if (e.code === 'UNAVAILABLE') return 'retry-uncounted';
    return (await d.client(requestTimeoutMs).then(() => true, () => false)) ? 'retry' : 'retry-uncounted';
  };

  const onFailure = (f: Failure) => {
    if (k.reselecting) return;
    k.events.failed();
    const e: NsmError = toNsmError(f.error);
    const fields = { connId: id, service: k.url.service, failures: f.failures, code: e.code, err: e.message, retryIn: seconds(f.retryInMs) };
    if (e.code === 'NOT_FOUND' && !k.conn) {
      log.warn(fields, 'no endpoint of the network service can be reached; trying again with backoff, and as soon as one registers');
      if (!waitingForEndpoint) {
        waitingForEndpoint = new AbortController();
        void wakeOnRegistration(d, k, AbortSignal.any([signal, waitingForEndpoint.signal]));
      }
    } else log.warn({ ...fields, counted: f.counted }, k.conn ? 'refresh failed; healing' : 'request failed; trying again');
  };

  let period = 5000;
  try {
    while (!signal.aborted) {
      let conn: Connection;
      try {
        // Never back off past a refresh period, so the connection is claimed before it expires.
        conn = await retry(attempt, { signal, wakeup: k.wakeup, backoff: { floorMs: 400, capMs: Math.min(5000, period) }, decide, onFailure });
      } catch {
        return; // every failure is retried: only the signal ends the loop
      }
      period = Math.max(100, msUntilExpiry(conn, 60_000) / 3);
      await k.wakeup.sleep(period, signal);
    }
  } finally {
    stopWaiting();
  }
}
