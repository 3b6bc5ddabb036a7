import type { ServiceDefinition } from '@grpc/grpc-js';

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
  readonly methods: Readonly<Record<string, MethodDef<any, any>>>;
}

export function methodPath(service: ServiceDef, method: MethodDef<unknown, unknown>): string {
  return `/${service.fullName}/${method.name}`;
}

export const serialize = <T>(codec: Codec<T>) => (value: T): Buffer => Buffer.from(codec.encode(value).finish());
export const deserialize = <T>(codec: Codec<T>) => (bytes: Buffer): T => codec.decode(bytes);

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
      requestDeserialize: deserialize(method.requestType),
      responseSerialize: serialize(method.responseType),
      responseDeserialize: deserialize(method.responseType),
    };
  }
  return out as ServiceDefinition;
}
