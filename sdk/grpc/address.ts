import { NsmError } from '../errors.ts';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/**
 * Accepts `unix:///abs/path`, `unix:/abs/path`, `tcp://host:port`, `tcp://:port`, `host:port`
 * and `:port` (all interfaces).
 */
export function parseAddress(value: string): ListenAddress {
  const v = value.trim();
  if (v.startsWith('unix:')) {
    const path = v.replace(/^unix:(\/\/)?/, '');
    if (!path.startsWith('/')) throw new NsmError('INVALID_ARGUMENT', `${JSON.stringify(value)}: a unix socket address needs an absolute path, e.g. unix:///var/lib/networkservicemesh/nsm.io.sock`);
    return { kind: 'unix', path };
  }
  const hostPort = v.startsWith('tcp://') ? v.slice(6) : v;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]*):(\d{1,5})$/.exec(hostPort);
  if (!m || Number(m[2]) > 65535) {
    throw new NsmError('INVALID_ARGUMENT', `${JSON.stringify(value)} is not an address: use unix:///path/to.sock, tcp://host:port or :port`);
  }
  return { kind: 'tcp', host: m[1], port: Number(m[2]) };
}

export function formatAddress(a: ListenAddress): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host}:${a.port}`;
}

/** The target string grpc-js dials. */
export function grpcTarget(a: ListenAddress): string {
  if (a.kind === 'unix') return `unix://${a.path}`;
  const host = a.host === '' || a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '[::]' ? '[::1]' : a.host;
  return `${host}:${a.port}`;
}

/** The string grpc-js binds. */
export function grpcBindTarget(a: ListenAddress): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  return `${a.host === '' ? '0.0.0.0' : a.host}:${a.port}`;
}
