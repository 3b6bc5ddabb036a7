import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, NetworkServiceRequest, kernelMechanism } from '../../../proto/api.ts';
import { begin } from '../../../sdk/chain/begin.ts';
import { chain } from '../../../sdk/chain/chain.ts';
import { metadata, metaKey } from '../../../sdk/chain/metadata.ts';
import { newCtx, type Element } from '../../../sdk/chain/types.ts';
import { NsmError } from '../../../sdk/errors.ts';
import { formatAddress } from '../../../sdk/grpc/address.ts';
import { peerKey } from '../../../sdk/grpc/call-ctx.ts';
import { callServer, NetworkServiceClient } from '../../../sdk/grpc/networkservice-client.ts';
import { networkServiceBinding } from '../../../sdk/grpc/networkservice-server.ts';
import { startGrpcServer } from '../../../sdk/grpc/server.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { sleep } from '../../fixtures/chain-probes.ts';

const log = silentLogger();
const dir = mkdtempSync(join(tmpdir(), 'nsm-grpc-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny endpoint: chooses the kernel mechanism, hands out an address, remembers it until Close. */
function endpointChain(closed: string[], seenPeers: string[]) {
  const addr = metaKey<string>('addr');
  let next = 1;
  const ipam: Element = {
    name: 'ipam',
    async request(ctx, req, nxt) {
      seenPeers.push(peerKey.get(ctx)?.address ?? '');
      if (req.connection?.networkService === 'missing') throw new NsmError('NOT_FOUND', 'no endpoint for network service "missing"');
      if (req.connection?.networkService === 'slow') await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      if (req.connection?.networkService === 'crash') throw new Error('unexpected state');
      const ip = addr.get(ctx) ?? `172.16.1.${next++}/32`;
      addr.set(ctx, ip);
      const conn = await nxt.request(ctx, req);
      return { ...conn, mechanism: req.mechanismPreferences[0], context: { ipContext: { srcIpAddrs: [ip], dstIpAddrs: [], srcRoutes: [], dstRoutes: [], excludedPrefixes: [], ipNeighbors: [], extraPrefixRequest: [], extraPrefixes: [], policies: [], srcIpRequired: false, dstIpRequired: false }, extraContext: {}, MTU: 1450 } };
    },
    async close(ctx, conn, nxt) {
      closed.push(`${conn.id} ${addr.get(ctx)}`);
      return nxt.close(ctx, conn);
    },
  };
  return chain([begin(), metadata(), ipam]);
}

const request = (id: string, service = 'icmp') => NetworkServiceRequest.fromPartial({
  connection: { id, networkService: service, path: { index: 0, pathSegments: [{ name: 'nsc', id, expires: new Date('2030-01-01T00:00:00.123Z') }] } },
  mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/4026531840' })],
});

t.test('Request then Close over a unix socket through a small chain', async (t) => {
  const closed: string[] = [];
  const peers: string[] = [];
  const path = join(dir, 'nsm.io.sock');
  const server = await startGrpcServer({ listenOn: `unix://${path}`, services: [networkServiceBinding(endpointChain(closed, peers), log)] });
  t.teardown(() => server.stop());
  t.equal(statSync(path).mode & 0o777, 0o660, 'socket mode 0660');
  const client = await NetworkServiceClient.dial(formatAddress(server.address), { dialTimeoutMs: 2000 });
  t.teardown(() => client.shutdown());

  const conn = await client.request(request('nsc-0'));
  t.equal(conn.id, 'nsc-0');
  t.equal(conn.mechanism?.type, 'KERNEL');
  t.same(conn.mechanism?.parameters, { name: 'nsm-1', inodeURL: 'inode://4/4026531840' });
  t.same(conn.context?.ipContext?.srcIpAddrs, ['172.16.1.1/32']);
  t.equal(conn.context?.MTU, 1450);
  t.same(conn.path?.pathSegments[0].expires, new Date('2030-01-01T00:00:00.123Z'), 'timestamps survive the wire');

  const refreshed = await client.request({ connection: conn, mechanismPreferences: [] });
  t.same(refreshed.context?.ipContext?.srcIpAddrs, ['172.16.1.1/32'], 'refresh keeps the address');
  await client.close(conn);
  t.same(closed, ['nsc-0 172.16.1.1/32']);
  t.ok(peers.length === 2 && peers.every((p) => typeof p === 'string'));
});

t.test('errors keep their code across the wire; deadlines and aborts end calls', async (t) => {
  const server = await startGrpcServer({ listenOn: `unix://${join(dir, 'errors.sock')}`, services: [networkServiceBinding(endpointChain([], []), log)] });
  t.teardown(() => server.stop());
  const client = await NetworkServiceClient.dial(formatAddress(server.address));
  t.teardown(() => client.shutdown());

  await t.rejects(client.request(request('a', 'missing')), { code: 'NOT_FOUND', message: 'no endpoint for network service "missing"' });
  await t.rejects(client.request(request('b', 'crash')), { code: 'INTERNAL', message: /unexpected state/ });
  await t.rejects(client.request(request('c', 'slow'), { timeoutMs: 100 }), { code: 'DEADLINE_EXCEEDED' });
  const controller = new AbortController();
  const pending = client.request(request('d', 'slow'), { signal: controller.signal });
  await sleep(50);
  controller.abort();
  await t.rejects(pending, { code: 'CANCELLED' });
  await t.rejects(client.request(request('e'), { signal: AbortSignal.abort() }), { code: 'CANCELLED' });
  await t.rejects(client.request(request('f', 'slow'), { signal: AbortSignal.timeout(50) }), { code: 'DEADLINE_EXCEEDED' });
});

t.test('a client chain reaches a server chain over TCP with callServer', async (t) => {
  const closed: string[] = [];
  const server = await startGrpcServer({ listenOn: 'tcp://127.0.0.1:0', services: [networkServiceBinding(endpointChain(closed, []), log)] });
  t.teardown(() => server.stop());
  t.ok(server.address.kind === 'tcp' && server.address.port > 0, 'real port reported');
  const client = await NetworkServiceClient.dial(formatAddress(server.address));
  t.teardown(() => client.shutdown());
  const clientChain = chain([begin(), callServer(client, 2000)]);
  const conn = await clientChain.request(newCtx(log), request('c-1'));
  await clientChain.close(newCtx(log), Connection.fromPartial({ id: 'c-1' }));
  t.same(closed, [`c-1 ${conn.context?.ipContext?.srcIpAddrs[0]}`], 'close sent the connection the server returned');
});

t.test('dialing nothing fails within the dial timeout with UNAVAILABLE naming the address', async (t) => {
  const address = `unix://${join(dir, 'nobody.sock')}`;
  const started = Date.now();
  await t.rejects(NetworkServiceClient.dial(address, { dialTimeoutMs: 300 }), { code: 'UNAVAILABLE', message: new RegExp(`cannot reach ${address} within 300 ms`) });
  t.ok(Date.now() - started < 5000);
  await t.rejects(NetworkServiceClient.dial(address, { dialTimeoutMs: 5000, signal: AbortSignal.timeout(100) }), { code: 'CANCELLED' });
});

t.test('a stale socket file is replaced; a regular file in the way is not', async (t) => {
  const path = join(dir, 'stale.sock');
  const first = await startGrpcServer({ listenOn: `unix://${path}`, services: [] });
  await first.stop();
  const second = await startGrpcServer({ listenOn: `unix://${path}`, services: [] });
  await second.stop();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'plain'), 'data');
  await t.rejects(startGrpcServer({ listenOn: `unix://${join(dir, 'plain')}`, services: [] }), { code: 'FAILED_PRECONDITION' });
});
