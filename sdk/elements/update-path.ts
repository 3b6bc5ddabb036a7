import { randomUUID } from 'node:crypto';
import type { Connection, PathSegment } from '../../proto/api.ts';
import type { Element } from '../chain/types.ts';

/**
 * Upstream updatepath: this hop owns `path_segments[index]`. The first hop creates segment 0; a
 * later hop moves the index on by one and keeps the segment's id when the name is already its
 * own (refresh), otherwise writes a fresh segment and drops what followed. `connection.id` is the
 * id of the current segment while the call is inside the chain; the caller's id and index come
 * back on return.
 */
export function advancePath(conn: Connection, name: string): Connection {
  const segments: PathSegment[] = [...(conn.path?.pathSegments ?? [])];
  let index = conn.path?.index ?? 0;
  if (segments.length === 0) {
    segments.push({ name, id: conn.id || randomUUID(), token: '', metrics: {} });
    index = 0;
  } else if (segments[index]?.name !== name) {
    index += 1;
    if (segments[index]?.name !== name) {
      segments.length = index;
      segments.push({ name, id: randomUUID(), token: '', metrics: {} });
    }
  }
  return { ...conn, id: segments[index].id, path: { index, pathSegments: segments } };
}

function restore(conn: Connection, caller: Connection): Connection {
  return { ...conn, id: caller.id, path: { index: caller.path?.index ?? 0, pathSegments: conn.path?.pathSegments ?? [] } };
}

export function updatePath(name: string): Element {
  return {
    name: 'updatepath',
    async request(ctx, req, next) {
      const caller = req.connection!;
      const conn = await next.request(ctx, { ...req, connection: advancePath(caller, name) });
      return restore(conn, caller);
    },
    close: (ctx, conn, next) => next.close(ctx, advancePath(conn, name)),
  };
}
