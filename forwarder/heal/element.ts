import type { Element } from '../../sdk/chain/types.ts';
import { MONITOR } from '../../sdk/elements/monitor.ts';
import type { Healer } from './healer.ts';
import { interfaceOf } from './interface-closes.ts';

/**
 * The chain's side of healing: after each successful Request the connection is watched (see
 * Healer); a Request for a connection whose data path broke first closes what is left of it below
 * this element and then builds it again; a Request whose far side stopped answering fails at
 * once while it still does not; a failed Request whose far side turns out to be gone closes the
 * connection and answers NOT_FOUND. Place it after monitor, so that a rebuild is an
 * UPDATE to the streams and not a DELETE. A Request for a client interface that a Close of
 * another connection is still removing waits for that Close (InterfaceCloses).
 */
export function heal(healer: Healer): Element {
  const closes = healer.closes;
  return {
    name: 'heal',
    needs: ['begin', MONITOR],
    async request(ctx, req, next) {
      const id = req.connection!.id;
      if (!healer.watched.get(id)) await closes.free(interfaceOf([req.connection!.mechanism, ...req.mechanismPreferences]));
      await healer.checkFarSide(ctx, id);
      const broken = healer.takeBroken(id);
      if (broken) {
        ctx.log.info({ element: 'heal', connId: broken.id, reason: broken.broken }, 'building the data path again');
        await next.close(ctx, broken.conn).catch((err: unknown) => ctx.log.warn({ element: 'heal', connId: broken.id, err }, 'removing what was left of a broken data path failed'));
      }
      let resp;
      try {
        resp = await next.request(ctx, req);
      } catch (err) {
        throw await healer.failed(ctx, req, err);
      }
      await healer.record(ctx, resp).catch((err: unknown) => ctx.log.warn({ element: 'heal', connId: resp.id, err }, 'cannot watch the connection; it heals at its next refresh'));
      return resp;
    },
    close(ctx, conn, next) {
      healer.forget(conn.id);
      return closes.track(interfaceOf([conn.mechanism]), next.close(ctx, conn));
    },
  };
}
