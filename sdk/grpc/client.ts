import { Client, connectivityState, credentials as grpcCredentials, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { NsmError } from '../errors.ts';
import { SpanKind } from '@opentelemetry/api';
import { inSpan, outgoingTraceContext, tracing } from '../telemetry/tracing.ts';
import { grpcTarget, parseAddress } from './address.ts';
import { deserialize, methodPath, serialize, type MethodDef, type ServiceDef } from './definitions.ts';
import { GRPC_COMMON_OPTIONS } from './options.ts';
import { fromServiceError } from './status.ts';

export interface DialOptions {
  credentials?: ChannelCredentials;
  /** How long to wait for the connection to come up (default 5 s). */
  dialTimeoutMs?: number;
  signal?: AbortSignal;
  channelOptions?: Record<string, string | number>;
}

/** How to reach a peer, apart from timing: what a pool of channels to one kind of peer shares. */
export type ChannelSecurity = Pick<DialOptions, 'credentials' | 'channelOptions'>;

/** A channel to one address; `target` is the address as the user wrote it, for messages. */
export interface Channel {
  readonly client: Client;
  readonly target: string;
  close(): void;
}

export async function dial(address: string, options: DialOptions = {}): Promise<Channel> {
  const target = grpcTarget(parseAddress(address));
  if (options.signal?.aborted) throw new NsmError('CANCELLED', `dialing ${address} was cancelled`);
  const client = new Client(target, options.credentials ?? grpcCredentials.createInsecure(), { ...GRPC_COMMON_OPTIONS, ...options.channelOptions });
  const timeoutMs = options.dialTimeoutMs ?? 5000;
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new NsmError('CANCELLED', `dialing ${address} was cancelled`));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      client.waitForReady(Date.now() + timeoutMs, (err) => {
        options.signal?.removeEventListener('abort', onAbort);
        if (err) reject(new NsmError('UNAVAILABLE', `cannot reach ${address} within ${timeoutMs} ms: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  } catch (err) {
    client.close();
    throw err;
  }
  return { client, target: address, close: () => client.close() };
}

const WATCH_WINDOW_MS = 3_600_000;

/**
 * Calls `lost` once, when a channel that is connected now stops being connected (the peer
 * restarted or went away). Returns a function that stops watching.
 */
export function whenDisconnected(channel: Channel, lost: () => void): () => void {
  const grpcChannel = channel.client.getChannel();
  let done = false;
  const watch = (state: connectivityState) =>
    grpcChannel.watchConnectivityState(state, Date.now() + WATCH_WINDOW_MS, () => {
      if (done) return;
      const now = grpcChannel.getConnectivityState(false);
      if (now === connectivityState.READY) return watch(now);
      done = true;
      lost();
    });
  watch(grpcChannel.getConnectivityState(false));
  return () => {
    done = true;
  };
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  metadata?: Metadata;
}

function abortReason(signal: AbortSignal, target: string): NsmError {
  const reason: unknown = signal.reason;
  if (reason instanceof NsmError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return new NsmError('DEADLINE_EXCEEDED', `${target}: ${reason.message}`);
  return new NsmError('CANCELLED', `call to ${target} was cancelled`);
}

/**
 * grpc-js records the caller's stack on every call (`new Error()`) only to append it to a failed
 * call's message; capturing it is a large share of a call's cost. Our errors name the target and
 * the status instead, so calls are started with stack capture off.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The call's metadata, with the active trace context when tracing is on. */
function withTraceContext(given: Metadata | undefined): Metadata {
  const metadata = given ?? new Metadata();
  if (tracing()) for (const [k, v] of Object.entries(outgoingTraceContext())) metadata.set(k, v);
  return metadata;
}

/** One unary call as a promise; aborting the signal cancels the call on the wire. With tracing on, the call is a client span. */
export function unary<Req, Res>(channel: Channel, service: ServiceDef, method: MethodDef<Req, Res>, req: Req, options: CallOptions = {}): Promise<Res> {
  const tracer = tracing();
  if (!tracer) return unaryCall(channel, service, method, req, options);
  const path = methodPath(service, method);
  return inSpan(tracer, path.slice(1), { 'rpc.method': path, 'server.address': channel.target }, () => unaryCall(channel, service, method, req, options), SpanKind.CLIENT);
}

function unaryCall<Req, Res>(channel: Channel, service: ServiceDef, method: MethodDef<Req, Res>, req: Req, options: CallOptions): Promise<Res> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal, channel.target));
  return new Promise<Res>((resolve, reject) => {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const onAbort = () => call.cancel();
    const call = withoutCallerStack(() => channel.client.makeUnaryRequest(
      methodPath(service, method), serialize(method.requestType), deserialize(method.responseType), req,
      withTraceContext(options.metadata), { deadline },
      (err: ServiceError | null, res?: Res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(signal?.aborted ? abortReason(signal, channel.target) : fromServiceError(err, channel.target));
        else resolve(res as Res);
      },
    ));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A server-streaming call as an async iterable; errors surface as NsmError, abort cancels it. */
export async function* serverStream<Req, Res>(channel: Channel, service: ServiceDef, method: MethodDef<Req, Res>, req: Req, options: CallOptions = {}): AsyncGenerator<Res> {
  const { signal } = options;
  // An abort listener added after the abort never runs: the stream would stay open.
  if (signal?.aborted) throw abortReason(signal, channel.target);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const call = channel.client.makeServerStreamRequest(
    methodPath(service, method), serialize(method.requestType), deserialize(method.responseType), req,
    options.metadata ?? new Metadata(), { deadline },
  );
  const onAbort = () => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const item of call) yield item as Res;
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal, channel.target);
    throw fromServiceError(err as ServiceError, channel.target);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}
