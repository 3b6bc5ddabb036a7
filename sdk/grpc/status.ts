import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { codeName, NsmError, toNsmError } from '../errors.ts';

/** The edge from our errors to gRPC status: the code carries over, the message becomes details. */
export function toStatus(err: unknown): Partial<StatusObject> {
  const e = toNsmError(err);
  return { code: status[e.code], details: e.message, metadata: new Metadata() };
}

/** The edge back: a gRPC failure becomes an NsmError naming whom we were calling. */
export function fromServiceError(err: ServiceError, target: string): NsmError {
  const name = codeName(err.code);
  const details = err.details || err.message;
  const message = name === 'UNAVAILABLE' || name === 'DEADLINE_EXCEEDED' ? `${target}: ${details}` : details;
  return new NsmError(name, message, { cause: err });
}
