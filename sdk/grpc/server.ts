import { mkdir, chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { NsmError } from '../errors.ts';
import { parseAddress, grpcBindTarget, type ListenAddress } from './address.ts';
import { toGrpcService, type ServiceDef } from './definitions.ts';
import { GRPC_COMMON_OPTIONS } from './options.ts';
import { identifyUnixPeer } from './unix-callers.ts';

export interface ServiceBinding {
  definition: ServiceDef;
  implementation: UntypedServiceImplementation;
}

export interface GrpcServerOptions {
  listenOn: string;
  services: ServiceBinding[];
  credentials?: ServerCredentials;
  /** Mode of a unix socket file (default 0o660). */
  socketMode?: number;
}

export interface RunningGrpcServer {
  readonly server: Server;
  /** Where clients reach it, with the real port when `:0` was asked for. */
  readonly address: ListenAddress;
  stop(graceMs?: number): Promise<void>;
}

async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) throw new NsmError('FAILED_PRECONDITION', `${path} exists and is not a socket; remove it or listen elsewhere`);
  await unlink(path);
}

function listenError(listenOn: string, err: Error): NsmError {
  return new NsmError('UNAVAILABLE', `cannot listen on ${listenOn}: ${err.message}`, { cause: err });
}

/**
 * A unix socket is served by a net.Server of ours whose connections are handed to grpc-js, so
 * that every connection's peer credentials are read (once, at accept) before its first call.
 */
async function listenUnix(server: Server, path: string, credentials: ServerCredentials, listenOn: string): Promise<NetServer> {
  const injector = server.createConnectionInjector(credentials);
  const listener = createServer((socket) => {
    identifyUnixPeer(socket);
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (err) => reject(listenError(listenOn, err)));
    listener.listen(path, () => resolve());
  });
  listener.on('close', () => injector.destroy());
  return listener;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const requested = parseAddress(options.listenOn);
  const server = new Server({ ...GRPC_COMMON_OPTIONS, 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  for (const s of options.services) server.addService(toGrpcService(s.definition), s.implementation);
  const credentials = options.credentials ?? ServerCredentials.createInsecure();
  let address: ListenAddress;
  let listener: NetServer | undefined;
  if (requested.kind === 'unix') {
    await mkdir(dirname(requested.path), { recursive: true });
    await removeStaleSocket(requested.path);
    listener = await listenUnix(server, requested.path, credentials, options.listenOn);
    await chmod(requested.path, options.socketMode ?? 0o660);
    address = requested;
  } else {
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(grpcBindTarget(requested), credentials, (err, p) => (err ? reject(listenError(options.listenOn, err)) : resolve(p)));
    });
    address = { ...requested, port };
  }
  return {
    server,
    address,
    stop: (graceMs = 5000) => new Promise<void>((resolve) => {
      listener?.close();
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }),
  };
}
