import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { NetworkServiceDefinition, type Connection, type NetworkServiceRequest } from '../../proto/api.ts';
import type { NetworkServiceServer } from '../chain/types.ts';
import { toNsmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { callCtx } from './call-ctx.ts';
import type { ServiceBinding } from './server.ts';
import { toStatus } from './status.ts';

function unaryHandler<Req, Res>(log: Logger, method: string, handle: (ctx: ReturnType<typeof callCtx>['ctx'], req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const { ctx, done } = callCtx(call, log);
    handle(ctx, call.request).then(
      (res) => callback(null, res),
      (err) => {
        const e = toNsmError(err);
        (e.code === 'INTERNAL' ? log.error.bind(log) : log.debug.bind(log))({ method, code: e.code, err: e.message }, 'call failed');
        callback(toStatus(e));
      },
    ).finally(done);
  };
}

/** Serves a chain as `networkservice.NetworkService`. */
export function networkServiceBinding(server: NetworkServiceServer, log: Logger): ServiceBinding {
  const implementation: UntypedServiceImplementation = {
    request: unaryHandler<NetworkServiceRequest, Connection>(log, 'Request', (ctx, req) => server.request(ctx, req)),
    close: unaryHandler<Connection, object>(log, 'Close', async (ctx, conn) => {
      await server.close(ctx, conn);
      return {};
    }),
  };
  return { definition: NetworkServiceDefinition, implementation };
}

export { unaryHandler };
