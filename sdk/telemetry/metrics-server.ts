import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { NsmError } from '../errors.ts';
import { parseAddress } from '../grpc/address.ts';

/** Listens on `host` ('' = every address: IPv6 and IPv4 where the host has IPv6, else IPv4). */
export async function listenTcp(listen: (host: string) => Promise<unknown>, host: string): Promise<void> {
  if (host !== '') {
    await listen(host.replace(/^\[(.*)\]$/, '$1'));
    return;
  }
  try {
    await listen('::');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
    await listen('0.0.0.0');
  }
}

/** Answers GET /metrics with the registry's Prometheus text; anything else is 404. */
export function metricsHandler(registry: Registry): Server {
  return createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found; try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(`${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
}

export interface MetricsServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Serves the registry on NSM_METRICS_LISTEN_ON (plain HTTP, `host:port` or `:port`). */
export async function startMetricsServer(listenOn: string, registry: Registry, variable = 'NSM_METRICS_LISTEN_ON'): Promise<MetricsServer> {
  const addr = parseAddress(listenOn);
  if (addr.kind !== 'tcp') throw new NsmError('INVALID_ARGUMENT', `${variable}=${listenOn}: metrics are served over TCP; use :9090 or host:port`);
  const http = metricsHandler(registry);
  await listenTcp((host) => new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(addr.port, host, () => {
      http.off('error', reject);
      resolve();
    });
  }), addr.host).catch((err: unknown) => {
    throw new NsmError('UNAVAILABLE', `${variable}=${listenOn}: cannot listen: ${(err as Error).message}`, { cause: err });
  });
  return {
    port: (http.address() as AddressInfo).port,
    stop: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
