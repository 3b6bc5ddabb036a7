import type { Ctx } from './types.ts';

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
