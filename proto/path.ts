import type { Connection, PathSegment } from './gen/networkservice/connection.ts';

export function segments(conn: Connection): PathSegment[] {
  return conn.path?.pathSegments ?? [];
}

export function currentSegment(conn: Connection): PathSegment | undefined {
  return segments(conn)[conn.path?.index ?? 0];
}

export function previousSegment(conn: Connection): PathSegment | undefined {
  const index = conn.path?.index ?? 0;
  return index > 0 ? segments(conn)[index - 1] : undefined;
}

export function nextSegment(conn: Connection): PathSegment | undefined {
  return segments(conn)[(conn.path?.index ?? 0) + 1];
}

/** Earliest expiry over the whole path: the moment the first hop forgets the connection. */
export function earliestExpiry(conn: Connection): Date | undefined {
  let min: Date | undefined;
  for (const s of segments(conn)) if (s.expires && (!min || s.expires < min)) min = s.expires;
  return min;
}
