import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { NetworkServiceDefinition, type Connection, type NetworkServiceRequest } from '../../proto/api.ts';
import { closeProblem, requestProblem } from '../../proto/validate/connection.ts';
import type { Problem } from '../../proto/validate/fields.ts';
import type { NetworkServiceServer } from '../chain/types.ts';
import { NsmError, toNsmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { callCtx } from './call-ctx.ts';
import { MalformedMessage } from './definitions.ts';
import type { ServiceBinding } from './server.ts';
import { toStatus } from './status.ts';

function unaryHandler<Req, Res>(log: Logger, method: string, handle: (ctx: ReturnType<typeof callCtx>['ctx'], req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const { ctx, done } = callCtx(call, log);
    const req: unknown = call.request;
    const started = req instanceof MalformedMessage ? Promise.reject(new NsmError('INVALID_ARGUMENT', req.problem)) : handle(ctx, call.request);
    started.then(
      (res) => callback(null, res),
      (err: unknown) => {
        const e = toNsmError(err);
        (e.code === 'INTERNAL' ? log.error.bind(log) : log.debug.bind(log))({ method, code: e.code, err: e.message }, 'call failed');
        callback(toStatus(e));
      },
    ).finally(done);
  };
}

/** A caller's malformed message stops at the edge, naming the field and the rule. */
export function refuseProblem(problem: Problem): void {
  if (problem !== undefined) throw new NsmError('INVALID_ARGUMENT', problem);
}

/** Serves a chain as `networkservice.NetworkService`; every message is validated before the chain sees it. */
export function networkServiceBinding(server: NetworkServiceServer, log: Logger): ServiceBinding {
  const implementation: UntypedServiceImplementation = {
    request: unaryHandler<NetworkServiceRequest, Connection>(log, 'Request', async (ctx, req) => {
      refuseProblem(requestProblem(req));
      return server.request(ctx, req);
    }),
    close: unaryHandler<Connection, object>(log, 'Close', async (ctx, conn) => {
      refuseProblem(closeProblem(conn));
      await server.close(ctx, conn);
      return {};
    }),
  };
  return { definition: NetworkServiceDefinition, implementation };
}

export { unaryHandler };
