import { mkdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, earliestExpiry, type NetworkServiceRequest, type NsUrl } from '../../proto/api.ts';
import { NsmError, toNsmError } from '../../sdk/errors.ts';
import { NetworkServiceClient } from '../../sdk/grpc/networkservice-client.ts';
import { retry, type Attempt } from '../../sdk/retry.ts';
import { clientPreferences, requestLabels } from './preferences.ts';

export const connectionId = (name: string, index: number) => `${name}-${index}`;

/**
 * The id of the pod's connection on interface `ifname`, the same for as long as the interface
 * lives: `<name>-<i>` for the i-th URL the pod was created with (the id nsc init gave it), and
 * `<name>-<ifname>` for an interface asked for later (an edited annotation, an application).
 */
export function interfaceConnectionId(name: string, createdWith: readonly NsUrl[], ifname: string): string {
  const i = createdWith.findIndex((u) => u.ifname === ifname);
  return i >= 0 ? connectionId(name, i) : `${name}-${ifname}`;
}

/** The first Request of a connection, as upstream's client builds it (with the device-pool token it claims, if any). */
export function firstRequest(url: NsUrl, id: string, name: string, token?: string): NetworkServiceRequest {
  return {
    connection: Connection.fromPartial({
      id,
      networkService: url.service,
      labels: { ...requestLabels(url), podName: name },
      path: { index: 0, pathSegments: [{ name, id }] },
    }),
    mechanismPreferences: clientPreferences(url, undefined, undefined, token),
  };
}

/** A refresh: the connection as last answered, with the same preferences. */
export function refreshRequest(conn: Connection, url: NsUrl, token?: string): NetworkServiceRequest {
  return {
    connection: { ...conn, path: { index: 0, pathSegments: conn.path?.pathSegments ?? [] } },
    mechanismPreferences: clientPreferences(url, undefined, undefined, token),
  };
}

export interface Dialer {
  /** The shared channel; dialing waits at most `limitMs` (and never longer than the dial timeout). */
  client(limitMs?: number): Promise<NetworkServiceClient>;
  reset(): void;
}

export function dialer(connectTo: string, dialTimeoutMs: number): Dialer {
  let c: Promise<NetworkServiceClient> | undefined;
  return {
    client(limitMs = Infinity) {
      if (!c) {
        const dialing = NetworkServiceClient.dial(connectTo, { dialTimeoutMs: Math.max(1, Math.min(dialTimeoutMs, limitMs)) });
        dialing.catch(() => {
          if (c === dialing) c = undefined;
        });
        c = dialing;
      }
      return c;
    },
    reset() {
      void c?.then((x) => x.shutdown(), () => {});
      c = undefined;
    },
  };
}

export interface RequestRetryOptions {
  requestTimeoutMs: number;
  /** Absolute time (ms) after which no new attempt starts; Infinity = until aborted. */
  deadline: number;
  signal?: AbortSignal;
  onFailure?: (err: NsmError, attempt: number) => void;
}

/** One Request through the dialer's channel, dialing within `timeoutMs`; a channel that failed is dialled afresh next time. */
export async function requestOnce(d: Dialer, req: NetworkServiceRequest, timeoutMs: number, signal?: AbortSignal): Promise<Connection> {
  try {
    const client = await d.client(timeoutMs);
    return await client.request(req, { timeoutMs: Math.max(1, timeoutMs), signal });
  } catch (err) {
    const e = toNsmError(err);
    if (e.code === 'UNAVAILABLE') d.reset();
    throw e;
  }
}

/** Requests until one attempt succeeds, backing off from 200 ms to 5 s between attempts. */
export async function requestWithRetry(d: Dialer, build: () => NetworkServiceRequest, o: RequestRetryOptions): Promise<Connection> {
  let telling: NsmError | undefined;
  let attempts = 0;
  const attempt = (a: Attempt) => requestOnce(d, build(), Math.min(o.requestTimeoutMs, a.remainingMs), o.signal);
  try {
    return await retry(attempt, {
      backoff: { floorMs: 200, capMs: 5000 }, deadline: o.deadline, attemptMinMs: 100, signal: o.signal,
      onFailure: (f) => {
        const e = toNsmError(f.error);
        attempts = f.attempt;
        o.onFailure?.(e, f.attempt);
        // An attempt cut short by the deadline says less than the failure before it.
        if (!telling || (e.code !== 'DEADLINE_EXCEEDED' && e.code !== 'CANCELLED')) telling = e;
      },
    });
  } catch (err) {
    if (!telling) throw err;
    throw new NsmError(telling.code, `${telling.message} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`, { cause: telling });
  }
}

/** Waits until `ifname` is up and running with its address in this namespace. */
export async function waitInterfaceUp(ifname: string, conn: Connection, timeoutMs = 3000): Promise<void> {
  const want = conn.context?.ipContext?.srcIpAddrs.map((a) => a.split('/')[0]) ?? [];
  const until = Date.now() + timeoutMs;
  for (;;) {
    const addrs = (networkInterfaces()[ifname] ?? []).map((a) => a.address);
    if (addrs.length > 0 && want.every((w) => addrs.includes(w))) return;
    if (Date.now() > until) {
      throw new NsmError('FAILED_PRECONDITION', `the forwarder answered, but interface ${ifname} is not up with ${want.join(', ') || 'an address'} in this pod's network namespace`);
    }
    await sleep(50);
  }
}

export const connectionFile = (dir: string, ifname: string) => join(dir, `${ifname}.json`);

export async function writeConnection(dir: string, ifname: string, conn: Connection): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = connectionFile(dir, ifname);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(Connection.toJSON(conn), null, 2)}\n`);
  await rename(tmp, path);
}

export async function readConnection(dir: string, ifname: string): Promise<Connection | undefined> {
  try {
    return Connection.fromJSON(JSON.parse(await readFile(connectionFile(dir, ifname), 'utf8')));
  } catch {
    return undefined;
  }
}

export async function removeConnection(dir: string, ifname: string): Promise<void> {
  await rm(connectionFile(dir, ifname), { force: true });
}

/** The earliest expiry over the path, as milliseconds from now. */
export function msUntilExpiry(conn: Connection, fallbackMs: number): number {
  const expiry = earliestExpiry(conn);
  return expiry ? expiry.getTime() - Date.now() : fallbackMs;
}
