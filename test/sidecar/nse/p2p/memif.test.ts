import t from 'tap';
import { Connection, kernelMechanism, memifMechanism, type NetworkServiceRequest } from '../../../../proto/api.ts';
import { MEMIF_ENDPOINT_LABEL, memifOffer, offersMemif } from '../../../../proto/memif.ts';
import { chain, newCtx } from '../../../../sdk/chain/index.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { endpointElements } from '../../../../sidecar/nse/endpoint.ts';
import type { EndpointOptions } from '../../../../sidecar/nse/options.ts';
import { endpointRegistration } from '../../../../sidecar/nse/registration.ts';
import { PointToPointPool } from '../../../../sidecar/nse/p2p/point-to-point-pool.ts';
import { MemifIds } from '../../../../sidecar/nse/p2p/memif-ids.ts';
import { p2pElements, p2pMode } from '../../../../sidecar/nse/p2p/mode.ts';
import { nseEnv } from '../../../../sidecar/nse/env.ts';
import { loadConfig } from '../../../../sdk/config/types.ts';

t.test('ids: lowest free first, stable per connection, reused after release', async (t) => {
  const ids = new MemifIds();
  t.equal(ids.allocate('a'), 0);
  t.equal(ids.allocate('b'), 1);
  t.equal(ids.allocate('c'), 2);
  t.equal(ids.allocate('a'), 0, 'a refresh keeps the id');
  ids.release('b');
  t.equal(ids.get('b'), undefined);
  t.equal(ids.allocate('d'), 1, 'the released id is the lowest free one');
  t.equal(ids.allocate('e'), 3);
  ids.release('nobody');
  t.equal(ids.size, 4);
});

t.test('ids: a connection asking for its old id gets it when free, else the lowest free', async (t) => {
  const ids = new MemifIds();
  t.equal(ids.allocate('a', 5), 5, 'after an endpoint restart the client keeps its id');
  t.equal(ids.allocate('b'), 0);
  t.equal(ids.allocate('c', 5), 1, 'a taken id is not handed out twice');
});

const options = (): EndpointOptions => ({
  name: 'nse', services: ['svc'], labels: {}, payload: 'ETHERNET', connectTo: 'unix:///x', listenOn: 'unix:///y',
  connectionLifetimeMs: 60_000, dialTimeoutMs: 1000, log: silentLogger(),
});

/** What `nsm nse` registers in p2p mode, with or without a memif socket. */
async function registered(memifSocket: string | undefined, o: EndpointOptions) {
  const mode = await p2pMode.start(o, loadConfig(nseEnv, memifSocket ? { NSM_MEMIF_SOCKET: memifSocket } : {}));
  return endpointRegistration({ ...o, labels: { ...o.labels, ...mode.labels } });
}

function setup(memifSocket?: string) {
  const ids = new MemifIds();
  const pool = new PointToPointPool('10.0.0.0/29');
  const server = chain(endpointElements(options(), p2pElements(pool, ids, memifSocket)), { trace: false });
  const req = (id: string, prefs = [memifOffer({ uid: 1000 })], conn?: Connection): NetworkServiceRequest => ({
    connection: conn ?? Connection.fromPartial({ id, networkService: 'svc', path: { index: 0, pathSegments: [{ name: 'fwd', id }] } }),
    mechanismPreferences: prefs,
  });
  return { ids, pool, server, req, ctx: newCtx(silentLogger()) };
}

t.test('an endpoint with a memif socket answers MEMIF with its socket, an id, and an IP context', async (t) => {
  const { server, req, ctx, ids, pool } = setup('/shared/app/memif.sock');
  const a = await server.request(ctx, req('a'));
  const b = await server.request(ctx, req('b'));
  t.same(a.mechanism, memifMechanism({ socketfile: '/shared/app/memif.sock', id: 0 }));
  t.equal(b.mechanism?.parameters.id, '1');
  t.same(a.context?.ipContext?.srcIpAddrs, ['10.0.0.2/32'], 'addresses as usual (informational for memif applications)');
  t.equal((await server.request(ctx, req('a', [memifMechanism()], a))).mechanism?.parameters.id, '0', 'a refresh keeps the id');
  await server.close(ctx, a);
  t.equal(ids.get('a'), undefined, 'Close releases the id');
  t.equal(pool.get('a'), undefined, 'and the addresses');
  t.equal((await server.request(ctx, req('c'))).mechanism?.parameters.id, '0', 'the lowest free id is reused');
});

t.test('it still answers KERNEL, and the client order decides', async (t) => {
  const { server, req, ctx, ids } = setup('/shared/app/memif.sock');
  const k = await server.request(ctx, req('k', [kernelMechanism(), memifMechanism()]));
  t.equal(k.mechanism?.type, 'KERNEL');
  t.match(k.mechanism?.parameters.inodeURL, /^inode:\/\//);
  t.equal(ids.size, 0, 'no memif id for a kernel connection');
});

t.test('after an endpoint restart a refresh carrying its old id keeps it', async (t) => {
  const { server, req, ctx } = setup('/shared/app/memif.sock');
  const old = Connection.fromPartial({ id: 'a', networkService: 'svc', mechanism: memifMechanism({ socketfile: '/shared/app/memif.sock', id: 3 }) });
  t.equal((await server.request(ctx, req('a', [], old))).mechanism?.parameters.id, '3');
});

t.test('an endpoint without a memif socket refuses a MEMIF-only request', async (t) => {
  const { server, req, ctx } = setup();
  await t.rejects(server.request(ctx, req('a')), /no mechanism in common: the client offered MEMIF\/LOCAL/);
});

t.test('the registration marks every service of a memif endpoint, and only of one', async (t) => {
  const memif = await registered('/s', { ...options(), services: ['a', 'b'], labels: { app: 'x' } });
  t.same(memif.networkServiceLabels, {
    a: { labels: { app: 'x', [MEMIF_ENDPOINT_LABEL]: 'true' } }, b: { labels: { app: 'x', [MEMIF_ENDPOINT_LABEL]: 'true' } },
  });
  t.ok(offersMemif(memif, 'a'));
  const plain = await registered(undefined, options());
  t.same(plain.networkServiceLabels, { svc: { labels: {} } });
  t.notOk(offersMemif(plain, 'svc'));
});
