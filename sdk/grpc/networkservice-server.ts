import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { NetworkServiceDefinition, type Connection, type NetworkServiceRequest } from '../../proto/api.ts';
import { closeProblem, requestProblem } from '../../proto/validate/connection.ts';
import type { Problem } from '../../proto/validate/fields.ts';
import type { NetworkServiceServer } from '../chain/types.ts';
import { SpanKind } from '@opentelemetry/api';
import { NsmError, toNsmError, type CodeName } from '../errors.ts';
import { inSpan, tracing, withIncomingTraceContext } from '../telemetry/tracing.ts';
import type { Logger } from '../log.ts';
import { callCtx } from './call-ctx.ts';
import { MalformedMessage } from './definitions.ts';
import type { ServiceBinding } from './server.ts';
import { toStatus } from './status.ts';

/** What a server learns of each call it answered, for its metrics. */
export type CallObserver<Req> = (method: string, req: Req | undefined, code: CodeName | 'OK', durationMs: number) => void;

/** The caller's trace context, from the call's metadata. */
function traceCarrier(call: ServerUnaryCall<unknown, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

function unaryHandler<Req, Res>(log: Logger, method: string, handle: (ctx: ReturnType<typeof callCtx>['ctx'], req: Req) => Promise<Res>, observe?: CallObserver<Req>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const { ctx, done } = callCtx(call, log);
    const req: unknown = call.request;
    const malformed = req instanceof MalformedMessage ? req : undefined;
    const run = () => (malformed ? Promise.reject(new NsmError('INVALID_ARGUMENT', malformed.problem)) : handle(ctx, call.request));
    const tracer = tracing();
    const answered = tracer
      ? withIncomingTraceContext(traceCarrier(call), () => inSpan(tracer, method, { 'rpc.method': method, 'nsm.connection.id': connectionIdOf(req) }, run, SpanKind.SERVER))
      : run();
    answered.then(
      (res) => {
        observe?.(method, malformed ? undefined : call.request, 'OK', performance.now() - started);
        callback(null, res);
      },
      (err: unknown) => {
        const e = toNsmError(err);
        (e.code === 'INTERNAL' ? log.error.bind(log) : log.debug.bind(log))({ method, code: e.code, err: e.message }, 'call failed');
        observe?.(method, malformed ? undefined : call.request, e.code, performance.now() - started);
        callback(toStatus(e));
      },
    ).finally(done);
  };
}

/** The connection id a NetworkService call carries, for its span. */
function connectionIdOf(req: unknown): string {
  if (typeof req !== 'object' || req === null) return '';
  const conn = 'connection' in req ? req.connection : req;
  return typeof conn === 'object' && conn !== null && 'id' in conn && typeof conn.id === 'string' ? conn.id : '';
}

/** A caller's malformed message stops at the edge, naming the field and the rule. */
export function refuseProblem(problem: Problem): void {
  if (problem !== undefined) throw new NsmError('INVALID_ARGUMENT', problem);
}

/** Serves a chain as `networkservice.NetworkService`; every message is validated before the chain sees it. */
export function networkServiceBinding(server: NetworkServiceServer, log: Logger, observe?: CallObserver<NetworkServiceRequest | Connection>): ServiceBinding {
  const implementation: UntypedServiceImplementation = {
    request: unaryHandler<NetworkServiceRequest, Connection>(log, 'networkservice.NetworkService/Request', async (ctx, req) => {
      refuseProblem(requestProblem(req));
      return server.request(ctx, req);
    }, observe),
    close: unaryHandler<Connection, object>(log, 'networkservice.NetworkService/Close', async (ctx, conn) => {
      refuseProblem(closeProblem(conn));
      await server.close(ctx, conn);
      return {};
    }, observe),
  };
  return { definition: NetworkServiceDefinition, implementation };
}

export { unaryHandler };
