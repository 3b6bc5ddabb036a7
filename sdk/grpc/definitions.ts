import { status, type ServiceDefinition } from '@grpc/grpc-js';

/** The codec half of a generated message type (ts-proto `MessageFns`). */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

export interface MethodDef<Req, Res> {
  readonly name: string;
  readonly requestType: Codec<Req>;
  readonly responseType: Codec<Res>;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

export interface ServiceDef {
  readonly name: string;
  readonly fullName: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each method has its own request and response types
  readonly methods: Readonly<Record<string, MethodDef<any, any>>>;
}

export function methodPath(service: ServiceDef, method: MethodDef<unknown, unknown>): string {
  return `/${service.fullName}/${method.name}`;
}

export const serialize = <T>(codec: Codec<T>) => (value: T): Buffer => Buffer.from(codec.encode(value).finish());
export const deserialize = <T>(codec: Codec<T>) => (bytes: Buffer): T => codec.decode(bytes);

/**
 * A request that is not a valid encoding of its message. grpc-js answers a deserializer that
 * throws with INTERNAL; a caller's malformed bytes are its mistake, so servers receive this
 * instead and answer INVALID_ARGUMENT.
 */
export class MalformedMessage {
  readonly problem: string;
  constructor(type: string, err: unknown) {
    this.problem = `the request is not a valid ${type} message: ${(err as Error).message}`;
  }
}

/** Ends a server stream whose request was malformed with INVALID_ARGUMENT; true when it did. */
export function refusedMalformed(call: { request: unknown; emit(event: 'error', err: object): boolean }): boolean {
  if (!(call.request instanceof MalformedMessage)) return false;
  call.emit('error', { code: status.INVALID_ARGUMENT, details: call.request.problem });
  return true;
}

const lenientDeserialize = <T>(codec: Codec<T>, type: string) => (bytes: Buffer): T | MalformedMessage => {
  try {
    return codec.decode(bytes);
  } catch (err) {
    return new MalformedMessage(type, err);
  }
};

/** Turns a generated service definition into the grpc-js form; method keys stay the same. */
export function toGrpcService(service: ServiceDef): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [key, method] of Object.entries(service.methods)) {
    out[key] = {
      path: methodPath(service, method),
      originalName: method.name,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      requestSerialize: serialize(method.requestType),
      requestDeserialize: lenientDeserialize(method.requestType, `${service.fullName}/${method.name} request`),
      responseSerialize: serialize(method.responseType),
      responseDeserialize: deserialize(method.responseType),
    };
  }
  return out as ServiceDefinition;
}
