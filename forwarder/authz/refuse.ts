import type { Ctx } from '../../sdk/chain/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { describeCaller, type Caller } from './caller.ts';

/** Refuses a call with PERMISSION_DENIED, logging once who asked and why (never what it sent). */
export function refuse(ctx: Ctx, caller: Caller, action: string, reason: string): never {
  ctx.log.warn({ caller: describeCaller(caller), action, reason }, 'refused a call');
  throw new NsmError('PERMISSION_DENIED', reason);
}
