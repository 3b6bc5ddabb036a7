import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  NetworkServiceEndpoint, NetworkServiceEndpointRegistryDefinition, NetworkServiceRegistryDefinition, Payload, RegistryNetworkService,
  type NetworkServiceEndpointQuery, type NetworkServiceQuery,
} from '../../proto/api.ts';
import { NsmError } from '../errors.ts';
import { endpointNameProblem, endpointProblem, serviceProblem } from '../../proto/validate/registry.ts';
import { nameProblem } from '../../proto/validate/fields.ts';
import { refuseProblem, unaryHandler } from '../grpc/networkservice-server.ts';
import { refusedMalformed } from '../grpc/definitions.ts';
import type { ServiceBinding } from '../grpc/server.ts';
import type { Ctx } from '../chain/types.ts';
import type { Logger } from '../log.ts';
import { endpointMatchesQuery, isExpired, serviceMatchesQuery } from './match.ts';
import type { Change, ObjectStore, RegistryBackend } from './types.ts';

/**
 * Who may change what: consulted before every write with the caller's context. A method throws
 * to refuse; `service` returns what to store.
 */
export interface RegistrationGuard {
  registerEndpoint(ctx: Ctx, nse: NetworkServiceEndpoint, existing: NetworkServiceEndpoint | undefined): Promise<void>;
  unregisterEndpoint(ctx: Ctx, name: string, existing: NetworkServiceEndpoint | undefined): Promise<void>;
  /** The endpoint's registration is gone (unregistered or expired). */
  forgetEndpoint(name: string): void;
  registerService(ctx: Ctx, ns: RegistryNetworkService, existing: RegistryNetworkService | undefined): Promise<RegistryNetworkService>;
  unregisterService(ctx: Ctx, name: string, existing: RegistryNetworkService | undefined): Promise<void>;
}

export interface RegistryServerOptions {
  /** Longest registration an endpoint gets before it must refresh (upstream default 1m). */
  expirationMs: number;
  now?: () => Date;
  guard?: RegistrationGuard;
}

const unary = <Req, Res>(log: Logger, method: string, handle: (req: Req, ctx: Ctx) => Promise<Res>) => unaryHandler<Req, Res>(log, method, (ctx, req) => handle(req, ctx));

/**
 * Find: what matches now, then (with `watch`) every later change. A delete is reported only to
 * streams that were sent the object, as a message with just its name.
 */
function streamFind<T extends { name: string }, Q, R>(
  store: ObjectStore<T>, matches: (q: Q, o: T) => boolean, queryOf: (q: Q) => boolean, respond: (o: T, deleted: boolean) => R, visible: (o: T) => boolean,
  named: (name: string) => T,
) {
  return (call: ServerWritableStream<Q, R>) => {
    if (refusedMalformed(call)) return;
    const query = call.request;
    const sent = new Set<string>();
    for (const o of store.list()) {
      if (visible(o) && matches(query, o)) {
        sent.add(o.name);
        call.write(respond(o, false));
      }
    }
    if (!queryOf(query)) {
      call.end();
      return;
    }
    const stop = store.watch((c: Change<T>) => {
      if (c.kind === 'put' && matches(query, c.object)) {
        sent.add(c.object.name);
        call.write(respond(c.object, !visible(c.object)));
      }
      if (c.kind === 'delete' && sent.delete(c.name)) call.write(respond(named(c.name), true));
    });
    call.on('cancelled', stop);
    call.on('close', stop);
  };
}

/**
 * Both registry services over a backend. Endpoint registrations get an expiration time no later
 * than `expirationMs` from now; expired ones are hidden from Find and removed by `sweep`.
 */
export function registryBindings(backend: RegistryBackend, log: Logger, options: RegistryServerOptions): { bindings: ServiceBinding[]; sweep: () => Promise<number> } {
  const now = options.now ?? (() => new Date());
  const guard = options.guard;
  const services: UntypedServiceImplementation = {
    register: unary<RegistryNetworkService, RegistryNetworkService>(log, 'NetworkService.Register', async (ns, ctx) => {
      refuseProblem(serviceProblem(ns));
      const asked = { ...ns, payload: ns.payload || Payload.IP };
      const stored = guard ? await guard.registerService(ctx, asked, backend.services.get(ns.name)) : asked;
      return stored === backend.services.get(ns.name) ? stored : backend.services.put(stored);
    }),
    unregister: unary<RegistryNetworkService, object>(log, 'NetworkService.Unregister', async (ns, ctx) => {
      refuseProblem(nameProblem('name', ns.name));
      await guard?.unregisterService(ctx, ns.name, backend.services.get(ns.name));
      await backend.services.delete(ns.name);
      return {};
    }),
    find: streamFind<RegistryNetworkService, NetworkServiceQuery, object>(
      backend.services, (q, o) => serviceMatchesQuery(q.networkService ?? RegistryNetworkService.fromPartial({}), o), (q) => q.watch,
      (o, deleted) => ({ networkService: o, deleted }), () => true, (name) => RegistryNetworkService.fromPartial({ name }),
    ),
  };
  const endpoints: UntypedServiceImplementation = {
    register: unary<NetworkServiceEndpoint, NetworkServiceEndpoint>(log, 'NetworkServiceEndpoint.Register', async (nse, ctx) => {
      if (nse.name === '') throw new NsmError('INVALID_ARGUMENT', 'endpoint has no name; set NSM_NAME');
      refuseProblem(endpointProblem(nse));
      const live = (e: NetworkServiceEndpoint | undefined) => (e && !isExpired(e, now()) ? e : undefined);
      const previous = backend.endpoints.get(nse.name);
      await guard?.registerEndpoint(ctx, nse, live(previous));
      const limit = new Date(now().getTime() + options.expirationMs);
      const asked = nse.expirationTime;
      const expirationTime = asked && asked < limit && asked > now() ? asked : limit;
      const initialRegistrationTime = previous?.initialRegistrationTime ?? now();
      return backend.endpoints.put({ ...nse, expirationTime, initialRegistrationTime });
    }),
    unregister: unary<NetworkServiceEndpoint, object>(log, 'NetworkServiceEndpoint.Unregister', async (nse, ctx) => {
      refuseProblem(endpointNameProblem(nse));
      const existing = backend.endpoints.get(nse.name);
      await guard?.unregisterEndpoint(ctx, nse.name, existing && !isExpired(existing, now()) ? existing : undefined);
      await backend.endpoints.delete(nse.name);
      guard?.forgetEndpoint(nse.name);
      return {};
    }),
    find: streamFind<NetworkServiceEndpoint, NetworkServiceEndpointQuery, object>(
      backend.endpoints, (q, o) => endpointMatchesQuery(q.networkServiceEndpoint ?? NetworkServiceEndpoint.fromPartial({}), o), (q) => q.watch,
      (o, deleted) => ({ networkServiceEndpoint: o, deleted }), (o) => !isExpired(o, now()), (name) => NetworkServiceEndpoint.fromPartial({ name }),
    ),
  };
  const sweep = async () => {
    let removed = 0;
    for (const nse of backend.endpoints.list()) {
      if (isExpired(nse, now()) && await backend.endpoints.delete(nse.name)) {
        removed++;
        guard?.forgetEndpoint(nse.name);
        log.info({ endpoint: nse.name }, 'endpoint registration expired');
      }
    }
    return removed;
  };
  return {
    bindings: [
      { definition: NetworkServiceRegistryDefinition, implementation: services },
      { definition: NetworkServiceEndpointRegistryDefinition, implementation: endpoints },
    ],
    sweep,
  };
}
