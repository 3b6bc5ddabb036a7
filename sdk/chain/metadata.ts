import { NsmError } from '../errors.ts';
import { ctxKey, type Ctx, type Element } from './types.ts';

type Store = Map<symbol, unknown>;
const storeKey = ctxKey<Store>('metadata');

/**
 * Per-connection state, kept from a connection's first Request until its Close. Elements read and
 * write it through typed keys (`metaKey`). A failed first Request drops what was stored.
 */
export function metadata(): Element & { readonly size: () => number } {
  const stores = new Map<string, Store>();
  return {
    name: 'metadata',
    provides: ['metadata'],
    size: () => stores.size,
    async request(ctx, req, next) {
      const id = req.connection?.id ?? '';
      let store = stores.get(id);
      const fresh = store === undefined;
      if (!store) {
        store = new Map();
        stores.set(id, store);
      }
      try {
        return await next.request(storeKey.with(ctx, store), req);
      } catch (err) {
        if (fresh) stores.delete(id);
        throw err;
      }
    },
    async close(ctx, conn, next) {
      const store: Store = stores.get(conn.id) ?? new Map<symbol, unknown>();
      try {
        await next.close(storeKey.with(ctx, store), conn);
      } finally {
        stores.delete(conn.id);
      }
    },
  };
}

export interface MetaKey<T> {
  get(ctx: Ctx): T | undefined;
  set(ctx: Ctx, value: T): void;
  delete(ctx: Ctx): T | undefined;
}

export function metaKey<T>(name: string): MetaKey<T> {
  const symbol = Symbol(name);
  const store = (ctx: Ctx): Store => {
    const s = storeKey.get(ctx);
    if (!s) throw new NsmError('INTERNAL', `element "${name}" needs per-connection metadata: put the metadata element before it in the chain`);
    return s;
  };
  return {
    get: (ctx) => store(ctx).get(symbol) as T | undefined,
    set: (ctx, value) => void store(ctx).set(symbol, value),
    delete: (ctx) => {
      const s = store(ctx);
      const value = s.get(symbol) as T | undefined;
      s.delete(symbol);
      return value;
    },
  };
}
