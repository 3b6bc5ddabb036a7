/**
 * A lean gRPC unary client over node:http2, for load generation only. The load generator shares
 * the 2 cores with what it measures; @grpc/grpc-js spends ~200 us of CPU per call on the client
 * side, this ~80 us (the same job as ghz or h2load, which are not available here). It speaks the
 * real wire protocol to the real servers: length-prefixed protobuf, `grpc-status` in trailers
 * (or in a trailers-only response), `grpc-timeout` for the deadline.
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import type { MethodDef, ServiceDef } from '../sdk/grpc/definitions.ts';
import { methodPath } from '../sdk/grpc/definitions.ts';

export class GrpcStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(`grpc-status ${status}: ${message}`);
    this.status = status;
  }
}

function statusOf(h: IncomingHttpHeaders): GrpcStatusError | null | undefined {
  if (h['grpc-status'] === undefined) return undefined;
  const status = Number(h['grpc-status']);
  return status === 0 ? null : new GrpcStatusError(status, decodeURIComponent(String(h['grpc-message'] ?? '')));
}

export class LeanGrpcClient {
  readonly #session: ClientHttp2Session;

  private constructor(session: ClientHttp2Session) {
    this.#session = session;
  }

  /** `unix:///path` or `host:port`. */
  static connect(address: string): Promise<LeanGrpcClient> {
    const unix = address.startsWith('unix://') ? address.slice('unix://'.length) : undefined;
    const session = unix
      ? connect('http://localhost', { createConnection: () => netConnect(unix) })
      : connect(`http://${address}`);
    return new Promise((resolve, reject) => {
      session.once('connect', () => resolve(new LeanGrpcClient(session)));
      session.once('error', reject);
    });
  }

  async unary<Req, Res>(service: ServiceDef, method: MethodDef<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    return method.responseType.decode(await this.raw(methodPath(service, method), method.requestType.encode(req).finish(), timeoutMs));
  }

  /** Sends `body` as the one message of a call to `path`, whatever it decodes to; resolves with the answer's bytes. */
  raw(path: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    return new Promise<Uint8Array>((resolve, reject) => {
      const stream = this.#session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
      });
      const chunks: Buffer[] = [];
      let status: GrpcStatusError | null | undefined;
      stream.on('response', (h) => (status = statusOf(h))); // trailers-only: an error without a body
      stream.on('trailers', (h: IncomingHttpHeaders) => (status = statusOf(h)));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => {
        if (status) return reject(status);
        if (status === undefined) return reject(new Error(`stream closed without a grpc-status (http2 code ${stream.rstCode})`));
        const data = Buffer.concat(chunks);
        if (data.length < 5 || data[0] !== 0) return reject(new Error('response is not one uncompressed gRPC message'));
        resolve(data.subarray(5, 5 + data.readUInt32BE(1)));
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.#session.close();
  }
}
