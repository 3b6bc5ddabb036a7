import type { Connection, NetworkServiceRequest } from '../../proto/api.ts';
import type { Logger } from '../log.ts';

/**
 * What travels with one Request or Close down a chain. Immutable: an element that adds something
 * passes a derived copy to `next`.
 */
export interface Ctx {
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly values: ReadonlyMap<symbol, unknown>;
}

/** The NetworkService contract. A chain is one, and so is every element with its `next` bound. */
export interface NetworkServiceServer {
  request(ctx: Ctx, req: NetworkServiceRequest): Promise<Connection>;
  close(ctx: Ctx, conn: Connection): Promise<void>;
}

/**
 * One feature of a chain. A missing method passes the call straight to `next`.
 * `needs` and `provides` name what an element relies on being set up before it (per-connection
 * metadata, a chosen endpoint, a negotiated mechanism...) and what it sets up for the elements
 * after it; `chain()` refuses an order in which something is needed before it is provided.
 */
export interface Element {
  readonly name: string;
  readonly needs?: readonly string[];
  readonly provides?: readonly string[];
  request?(ctx: Ctx, req: NetworkServiceRequest, next: NetworkServiceServer): Promise<Connection>;
  close?(ctx: Ctx, conn: Connection, next: NetworkServiceServer): Promise<void>;
}

export interface CtxKey<T> {
  readonly symbol: symbol;
  get(ctx: Ctx): T | undefined;
  with(ctx: Ctx, value: T): Ctx;
}

export function ctxKey<T>(name: string): CtxKey<T> {
  const symbol = Symbol(name);
  return {
    symbol,
    get: (ctx) => ctx.values.get(symbol) as T | undefined,
    with: (ctx, value) => ({ ...ctx, values: new Map(ctx.values).set(symbol, value) }),
  };
}

export function newCtx(log: Logger, signal: AbortSignal = new AbortController().signal): Ctx {
  return { signal, log, values: new Map() };
}
