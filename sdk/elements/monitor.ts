import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ConnectionEventType, MonitorConnectionDefinition, type Connection, type ConnectionEvent, type MonitorScopeSelector, type PathSegment } from '../../proto/api.ts';
import { closeThenRelease } from '../chain/rollback.ts';
import type { Element } from '../chain/types.ts';
import { refusedMalformed } from '../grpc/definitions.ts';
import type { ServiceBinding } from '../grpc/server.ts';

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

/** Keeps the live connections of a chain and streams their changes to MonitorConnections callers. */
export function monitor(): Element & { binding: ServiceBinding; readonly connections: ReadonlyMap<string, Connection> } {
  const connections = new Map<string, Connection>();
  const watchers = new Set<(e: ConnectionEvent) => void>();
  const emit = (type: ConnectionEventType, conn: Connection) => {
    for (const w of watchers) w({ type, connections: { [conn.id]: conn } });
  };
  const implementation: UntypedServiceImplementation = {
    monitorConnections(call: ServerWritableStream<MonitorScopeSelector, ConnectionEvent>) {
      if (refusedMalformed(call)) return;
      const selector = call.request;
      const initial: Record<string, Connection> = {};
      for (const [id, c] of connections) if (selectorMatches(selector, c)) initial[id] = c;
      call.write({ type: ConnectionEventType.INITIAL_STATE_TRANSFER, connections: initial });
      const watcher = (e: ConnectionEvent) => {
        const picked = Object.entries(e.connections).filter(([, c]) => selectorMatches(selector, c));
        if (picked.length > 0) call.write({ type: e.type, connections: Object.fromEntries(picked) });
      };
      watchers.add(watcher);
      const stop = () => watchers.delete(watcher);
      call.on('cancelled', stop);
      call.on('close', stop);
    },
  };
  return {
    name: 'monitor',
    connections,
    binding: { definition: MonitorConnectionDefinition, implementation },
    async request(ctx, req, next) {
      const conn = await next.request(ctx, req);
      connections.set(conn.id, conn);
      emit(ConnectionEventType.UPDATE, conn);
      return conn;
    },
    close: (ctx, conn, next) =>
      closeThenRelease(ctx, conn, next, () => {
        connections.delete(conn.id);
        emit(ConnectionEventType.DELETE, conn);
      }),
  };
}
