import { ConnectionEventType, MonitorScopeSelector, State, type Connection } from '../../proto/api.ts';
import { toNsmError } from '../../sdk/errors.ts';
import { monitorConnections } from '../../sdk/grpc/monitor-client.ts';
import type { Logger } from '../../sdk/log.ts';
import { retry } from '../../sdk/retry.ts';
import type { Dialer } from './client.ts';
import type { HealAction, HealCause } from './kept-connection.ts';

/** What the monitor needs of a connection it heals (a client's kept connection, a passthrough's onward one). */
export interface HealedConnection {
  /** The last answer; undefined while there is none. */
  readonly conn: Connection | undefined;
  readonly service: string;
  /** Whether `hopId` (a later hop's connection id) is on the current connection's path. */
  isCurrent(hopId: string): boolean;
  heal(action: HealAction, cause: HealCause): void;
}

/**
 * Watches the forwarder's MonitorConnections stream for this client's connections (upstream's
 * heal client) and turns what it says into actions of the keep-alive loops:
 * - DELETE of a connection: the forwarder closed it (its endpoint is gone): reselect;
 * - UPDATE with state DOWN: its path is impaired, the endpoint alive: refresh now;
 * - a connection missing from the initial state (a restarted forwarder that has not adopted it yet): refresh now;
 * - the stream ends (the forwarder is restarting): refresh every connection, which the restarted
 *   forwarder adopts; the stream is opened again with backoff.
 * Events about an earlier connection of the same id (one already replaced) change nothing.
 */
export async function watchForwarder(d: Dialer, clientName: string, kept: readonly HealedConnection[], log: Logger, signal: AbortSignal): Promise<void> {
  const selector = MonitorScopeSelector.fromPartial({ pathSegments: [{ name: clientName }] });
  // Only a connection with an answer has a current path for an event to be about.
  const keptFor = (clientId: string) => kept.find((k) => k.conn !== undefined && k.conn.id === clientId);
  const clientIdOf = (segments: readonly { name: string; id: string }[] | undefined) => segments?.find((s) => s.name === clientName)?.id;
  let streaming = false;
  await retry(async (a) => {
    const client = await d.client();
    let first = true;
    for await (const e of monitorConnections(client.channel, selector, signal)) {
      if (first) {
        a.reset();
        streaming = true;
      }
      const seen = new Set<HealedConnection>();
      for (const c of Object.values(e.connections)) {
        const k = keptFor(clientIdOf(c.path?.pathSegments) ?? '');
        if (!k || !k.isCurrent(c.id)) continue;
        seen.add(k);
        if (e.type === ConnectionEventType.DELETE) {
          log.info({ connId: k.conn?.id, service: k.service, endpoint: c.networkServiceEndpointName }, 'the forwarder closed the connection (its endpoint is gone); requesting the service again');
          k.heal('reselect', 'endpoint-closed');
        } else if (c.state === State.DOWN) {
          log.info({ connId: k.conn?.id, service: k.service, endpoint: c.networkServiceEndpointName }, 'the forwarder reports the connection down; requesting it again');
          k.heal('refresh', 'path-down');
        }
      }
      if (first && e.type === ConnectionEventType.INITIAL_STATE_TRANSFER) {
        for (const k of kept) if (k.conn && !seen.has(k)) k.heal('refresh', 'not-adopted');
      }
      first = false;
    }
    throw new Error('the forwarder ended the stream');
  }, {
    signal, backoff: { floorMs: 200, capMs: 2000 },
    onFailure: (f) => {
      if (!streaming) return;
      streaming = false;
      log.info({ err: toNsmError(f.error).message }, 'lost the forwarder\'s monitor stream; refreshing the connections');
      for (const k of kept) if (k.conn) k.heal('refresh', 'monitor-lost');
    },
  }).catch(() => {}); // every failure is retried: only the signal ends the watch
}
