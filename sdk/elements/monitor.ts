import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ConnectionEventType, MonitorConnectionDefinition, State, type Connection, type ConnectionEvent, type MonitorScopeSelector, type PathSegment } from '../../proto/api.ts';
import { closeThenRelease } from '../chain/rollback.ts';
import type { Ctx, Element } from '../chain/types.ts';
import { refusedMalformed } from '../grpc/definitions.ts';
import { callCtx } from '../grpc/call-ctx.ts';
import type { ServiceBinding } from '../grpc/server.ts';
import { silentLogger } from '../log.ts';

/** What the monitor element provides: the connection streams elements after it report to. */
export const MONITOR = 'monitor';

function segmentMatches(want: PathSegment, have: PathSegment): boolean {
  return (want.name === '' || want.name === have.name) && (want.id === '' || want.id === have.id) && (want.token === '' || want.token === have.token);
}

/** Upstream selector semantics: services are an OR list; segments must match a contiguous run of the path. */
export function selectorMatches(selector: MonitorScopeSelector, conn: Connection): boolean {
  if (selector.networkServices.length > 0 && !selector.networkServices.includes(conn.networkService)) return false;
  const want = selector.pathSegments;
  const have = conn.path?.pathSegments ?? [];
  if (want.length === 0) return true;
  for (let start = 0; start + want.length <= have.length; start++) {
    if (want.every((w, i) => segmentMatches(w, have[start + i]))) return true;
  }
  return false;
}

export interface MonitorOptions {
  /** Whether the caller of a stream (its call context) may see `conn`; default: everyone sees everything. */
  visible?: (caller: Ctx, conn: Connection) => boolean;
}

export interface Monitor extends Element {
  readonly binding: ServiceBinding;
  readonly connections: ReadonlyMap<string, Connection>;
  /**
   * Marks a live connection DOWN (its path is impaired, the connection still exists) and tells
   * the streams with an UPDATE; the next successful Request brings it back UP. False when the
   * connection is not known.
   */
  down(id: string): boolean;
  /**
   * Tells the streams at once that a connection is being closed (DELETE), before its Close has
   * run through the chain (which may wait on a far side that is gone); that Close adds no second
   * DELETE.
   */
  closing(id: string): void;
  /** Keeps `conn` as it is now and tells the streams with an UPDATE (for connections this process makes rather than serves). */
  update(conn: Connection): void;
  /** Ends every open stream (the server is shutting down: its callers open them again elsewhere or later). */
  endStreams(): void;
}

/**
 * Keeps the live connections of a chain and streams their changes to MonitorConnections callers
 * with upstream's semantics: each stream starts with INITIAL_STATE_TRANSFER (every matching
 * connection), then UPDATE after each successful Request or state change and DELETE after Close.
 * A stream sees only what `visible` lets its caller see.
 */
export function monitor(options: MonitorOptions = {}): Monitor {
  const connections = new Map<string, Connection>();
  const watchers = new Set<(e: ConnectionEvent) => void>();
  const streams = new Set<ServerWritableStream<MonitorScopeSelector, ConnectionEvent>>();
  const emit = (type: ConnectionEventType, conn: Connection) => {
    for (const w of watchers) w({ type, connections: { [conn.id]: conn } });
  };
  const implementation: UntypedServiceImplementation = {
    monitorConnections(call: ServerWritableStream<MonitorScopeSelector, ConnectionEvent>) {
      if (refusedMalformed(call)) return;
      const selector = call.request;
      const { ctx, done } = callCtx(call, silentLogger());
      const shown = (c: Connection) => selectorMatches(selector, c) && (options.visible?.(ctx, c) ?? true);
      const initial: Record<string, Connection> = {};
      for (const [id, c] of connections) if (shown(c)) initial[id] = c;
      call.write({ type: ConnectionEventType.INITIAL_STATE_TRANSFER, connections: initial });
      const watcher = (e: ConnectionEvent) => {
        const picked = Object.entries(e.connections).filter(([, c]) => shown(c));
        if (picked.length > 0) call.write({ type: e.type, connections: Object.fromEntries(picked) });
      };
      watchers.add(watcher);
      streams.add(call);
      const stop = () => {
        watchers.delete(watcher);
        streams.delete(call);
        done();
      };
      call.on('cancelled', stop);
      call.on('close', stop);
    },
  };
  return {
    name: 'monitor',
    provides: [MONITOR],
    connections,
    binding: { definition: MonitorConnectionDefinition, implementation },
    down(id) {
      const conn = connections.get(id);
      if (!conn) return false;
      const down = { ...conn, state: State.DOWN };
      connections.set(id, down);
      emit(ConnectionEventType.UPDATE, down);
      return true;
    },
    update(conn) {
      connections.set(conn.id, conn);
      emit(ConnectionEventType.UPDATE, conn);
    },
    endStreams() {
      for (const call of [...streams]) call.end();
    },
    closing(id) {
      const conn = connections.get(id);
      if (!conn || !connections.delete(id)) return;
      emit(ConnectionEventType.DELETE, conn);
    },
    async request(ctx, req, next) {
      const conn = { ...(await next.request(ctx, req)), state: State.UP };
      connections.set(conn.id, conn);
      emit(ConnectionEventType.UPDATE, conn);
      return conn;
    },
    close: (ctx, conn, next) =>
      closeThenRelease(ctx, conn, next, () => {
        const last = connections.get(conn.id) ?? conn;
        if (!connections.delete(conn.id)) return;
        emit(ConnectionEventType.DELETE, last);
      }),
  };
}
