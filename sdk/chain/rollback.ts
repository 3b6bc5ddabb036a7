import type { Connection, NetworkServiceRequest } from '../../proto/api.ts';
import type { Ctx, NetworkServiceServer } from './types.ts';

/**
 * Do / next / undo: runs `work`, then `next`; when `next` fails, undoes the work and rethrows the
 * original error. An undo that fails is logged, never allowed to hide the original error.
 */
export async function doNextOrUndo<W, T>(
  ctx: Ctx,
  element: string,
  work: () => Promise<W>,
  next: (done: W) => Promise<T>,
  undo: (done: W) => Promise<void>,
): Promise<T> {
  const done = await work();
  try {
    return await next(done);
  } catch (err) {
    try {
      await undo(done);
    } catch (undoErr) {
      ctx.log.error({ element, err: undoErr }, 'rollback failed; state may be left behind');
    }
    throw err;
  }
}

/**
 * Next / do / close: the rest of the chain answers first, then this element builds on the answer
 * (`work`); when the work fails, its own partial state is undone (`undo`, failures logged) and
 * the far side closed, and the work's error is what the caller hears.
 */
export async function afterNextOrClose<T>(
  ctx: Ctx,
  element: string,
  next: NetworkServiceServer,
  req: NetworkServiceRequest,
  work: (resp: Connection) => Promise<T>,
  undo: () => Promise<void> = async () => {},
): Promise<T> {
  const resp = await next.request(ctx, req);
  try {
    return await work(resp);
  } catch (err) {
    await undo().catch((undoErr: unknown) => ctx.log.error({ element, connId: resp.id, err: undoErr }, 'rollback failed; state may be left behind'));
    await closeQuietly(ctx, element, next, resp);
    throw err;
  }
}

/**
 * The undo of a `next.request` that succeeded before a later step of this element failed: closes
 * the far side, logging a failed close (the far side then expires on its own) so that the
 * original error is the one the caller sees.
 */
export async function closeQuietly(ctx: Ctx, element: string, next: NetworkServiceServer, conn: Connection): Promise<void> {
  await next.close(ctx, conn).catch((err: unknown) => ctx.log.error({ element, connId: conn.id, err }, 'closing the far side after a failure failed; it expires on its own'));
}

/** A Close that releases this element's own state once the rest of the chain is done, whether or not it failed. */
export async function closeThenRelease(ctx: Ctx, conn: Connection, next: NetworkServiceServer, release: () => void): Promise<void> {
  try {
    await next.close(ctx, conn);
  } finally {
    release();
  }
}

/**
 * A Close that undoes this element's own kernel or file state first and then always closes the
 * rest of the chain, so the far side is released even when the undo failed; the undo's failure is
 * then what the caller hears.
 */
export async function undoThenClose(ctx: Ctx, conn: Connection, next: NetworkServiceServer, undo: () => Promise<void>): Promise<void> {
  const failed = await undo().then(() => undefined, (err: unknown) => ({ err }));
  await next.close(ctx, conn);
  if (failed) throw failed.err instanceof Error ? failed.err : new Error(String(failed.err));
}
