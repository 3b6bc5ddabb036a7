import { existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { Connection, kernelMechanism, memifMechanism, NetworkServiceEndpoint, type Mechanism, type NetworkServiceRequest } from '../../../proto/api.ts';
import { MEMIF_ENDPOINT_LABEL, memifOffer } from '../../../proto/memif.ts';
import { chain, metadata, newCtx, type Element } from '../../../sdk/chain/index.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { MemifRendezvous } from '../../../forwarder/dataplane/memif-rendezvous.ts';
import { clientOffers } from '../../../forwarder/elements/client-offers.ts';
import { kernelVeth } from '../../../forwarder/elements/kernel-veth.ts';
import { memifShortcut } from '../../../forwarder/elements/memif-shortcut.ts';
import { negotiateMechanism } from '../../../forwarder/elements/negotiate.ts';
import { ENDPOINT, endpointKey } from '../../../forwarder/elements/roundrobin.ts';
import { FakeNetns, RecordingRunner } from '../../fixtures/kernel.ts';
import { tempDir, type T } from '../../fixtures/netns.ts';

const KERNEL_OFFER = kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/100' });
const MEMIF_OFFER = memifOffer({ uid: 1000, gid: 1000 });
const OFFERS: Record<string, Mechanism[]> = { MEMIF: [MEMIF_OFFER], KERNEL: [KERNEL_OFFER], both: [MEMIF_OFFER, KERNEL_OFFER] };

/** An endpoint speaking KERNEL (and MEMIF on `socket` when given), recording what it was asked. */
function fakeEndpoint(socket: string | undefined) {
  const seen = { preferences: [] as string[][], closes: 0, nextId: 0 };
  const element: Element = {
    name: 'endpoint',
    request: async (_ctx, req) => {
      const wants = req.mechanismPreferences.map((m) => m.type);
      seen.preferences.push(wants);
      const base = { ...req.connection, context: { ipContext: { srcIpAddrs: ['10.0.0.2/32'], dstIpAddrs: ['10.0.0.1/32'] } } };
      if (wants[0] === 'MEMIF') {
        if (!socket) throw new Error('no mechanism in common');
        return Connection.fromPartial({ ...base, mechanism: memifMechanism({ socketfile: socket, id: seen.nextId }) });
      }
      return Connection.fromPartial({ ...base, mechanism: kernelMechanism({ inodeURL: 'inode://4/200' }) });
    },
    close: async () => { seen.closes++; },
  };
  return { element, seen };
}

async function setup(t: T, o: { sameNode: boolean; memif: boolean }) {
  const dir = tempDir(t, 'memif-sc');
  mkdirSync(join(dir, 'app'));
  const socket = join(dir, 'app/memif.sock');
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(socket, r));
  t.teardown(() => listener.close());
  const nse = NetworkServiceEndpoint.fromPartial({
    name: 'nse', networkServiceNames: ['svc'], url: o.sameNode ? 'unix:///run/nse.sock' : 'tcp://10.0.0.2:5002',
    networkServiceLabels: { svc: { labels: o.memif ? { [MEMIF_ENDPOINT_LABEL]: 'true' } : {} } },
  });
  const pick: Element = { name: 'pick', provides: [ENDPOINT], request: (ctx, req, next) => next.request(endpointKey.with(ctx, nse), req) };
  const runner = new RecordingRunner();
  const endpoint = fakeEndpoint(o.memif ? socket : undefined);
  const netns = new FakeNetns();
  const build = () => chain([
    metadata(), clientOffers(), negotiateMechanism(), pick, memifShortcut(new MemifRendezvous(join(dir, 'memif')), netns), kernelVeth(runner, netns), endpoint.element,
  ], { trace: false });
  const server = build();
  const req = (offers: Mechanism[], conn?: Connection): NetworkServiceRequest => ({
    connection: conn ?? Connection.fromPartial({ id: 'conn-1', networkService: 'svc' }), mechanismPreferences: offers,
  });
  return { dir, socket, server, restarted: build, req, runner, endpoint, netns, ctx: newCtx(silentLogger()) };
}

const combos: Array<{ sameNode: boolean; offer: string; memif: boolean; want: string }> = [];
for (const sameNode of [true, false]) {
  for (const offer of ['MEMIF', 'KERNEL', 'both']) {
    for (const memif of [true, false]) {
      const want = offer === 'KERNEL' ? 'KERNEL' : sameNode && memif ? 'MEMIF' : offer === 'both' ? 'KERNEL' : 'FAILED_PRECONDITION';
      combos.push({ sameNode, offer, memif, want });
    }
  }
}

for (const c of combos) {
  t.test(`${c.sameNode ? 'same node' : 'other node'}, client ${c.offer}, endpoint memif ${c.memif ? 'yes' : 'no'} → ${c.want}`, async (t) => {
    const { dir, socket, server, req, runner, endpoint, ctx } = await setup(t, c);
    const result = await server.request(ctx, req(OFFERS[c.offer])).catch((e: unknown) => e);
    if (c.want === 'FAILED_PRECONDITION') {
      t.ok(isNsmError(result, 'FAILED_PRECONDITION'), String(result));
      t.match(String(result), c.sameNode ? /endpoint "nse" has no memif socket/ : /endpoint "nse" is on another node/);
      t.same(endpoint.seen.preferences, [], 'the endpoint is not bothered');
      return;
    }
    const conn = result as Connection;
    t.equal(conn.mechanism?.type, c.want, 'the client hears the decided mechanism');
    if (c.want === 'MEMIF') {
      t.same(endpoint.seen.preferences, [['MEMIF']], 'the endpoint is asked for MEMIF');
      const link = join(dir, 'memif/conn-1/memif.sock');
      t.same(conn.mechanism?.parameters, { socketfile: link, id: '0' }, 'the client gets its private link and the endpoint\'s id');
      t.equal(lstatSync(link).ino, lstatSync(socket).ino);
      t.equal(lstatSync(join(dir, 'memif/conn-1')).uid, 1000, 'owned by the uid the client named');
      t.same(runner.steps, [], 'no kernel interface for memif');
    } else {
      t.same(endpoint.seen.preferences, [['KERNEL']], 'the endpoint is asked for KERNEL');
      t.same(conn.mechanism, KERNEL_OFFER, 'the client hears its KERNEL offer back');
      t.match(runner.opsIn('ns200'), [{ op: 'add-veth', name: /^nsm[0-9a-f]{10}$/, peer: 'nsm-1' }], 'the kernel path takes over');
      t.notOk(existsSync(join(dir, 'memif/conn-1')));
    }
  });
}

t.test('memif: refresh keeps the link, Close removes it and closes the endpoint side', async (t) => {
  const { dir, server, req, endpoint, ctx } = await setup(t, { sameNode: true, memif: true });
  const conn = await server.request(ctx, req(OFFERS.both));
  const again = await server.request(ctx, req(OFFERS.both, conn));
  t.same(again.mechanism, conn.mechanism);
  t.same(endpoint.seen.preferences, [['MEMIF'], ['MEMIF']]);
  await server.close(ctx, again);
  t.notOk(existsSync(join(dir, 'memif/conn-1')), 'link directory removed');
  t.equal(endpoint.seen.closes, 1);
});

t.test('a connection that fell back to KERNEL stays KERNEL on refresh', async (t) => {
  const { server, req, endpoint, ctx, runner } = await setup(t, { sameNode: true, memif: false });
  const conn = await server.request(ctx, req(OFFERS.both));
  const before = runner.steps.length;
  const again = await server.request(ctx, req(OFFERS.both, conn));
  t.equal(again.mechanism?.type, 'KERNEL');
  t.equal(runner.steps.length, before, 'the veth pair is kept');
  t.same(endpoint.seen.preferences, [['KERNEL'], ['KERNEL']]);
});

t.test('after a forwarder restart a refresh carrying MEMIF is served again and Close removes the link', async (t) => {
  const { dir, server, restarted, req, ctx, runner } = await setup(t, { sameNode: true, memif: true });
  const conn = await server.request(ctx, req(OFFERS.MEMIF));
  const next = restarted();
  const again = await next.request(ctx, req(OFFERS.MEMIF, conn));
  t.same(again.mechanism, conn.mechanism, 'same socket and id');
  t.same(runner.steps, []);
  await next.close(ctx, again);
  t.notOk(existsSync(join(dir, 'memif/conn-1')));
});

t.test('an endpoint socket that is gone fails the request and closes the endpoint side', async (t) => {
  const { socket, server, req, endpoint, ctx, dir } = await setup(t, { sameNode: true, memif: true });
  rmSync(socket);
  const err = await server.request(ctx, req(OFFERS.MEMIF)).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'FAILED_PRECONDITION'));
  t.match(String(err), /memif socket .* does not exist/);
  t.equal(endpoint.seen.closes, 1);
  t.notOk(existsSync(join(dir, 'memif/conn-1')));
});

t.test('a KERNEL fallback naming a namespace that is not on this node fails before the endpoint is asked', async (t) => {
  const { server, req, ctx, endpoint, netns } = await setup(t, { sameNode: true, memif: false });
  const kernel = kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/99' });
  netns.missing.add('inode://4/99');
  const err = await server.request(ctx, req([MEMIF_OFFER, kernel])).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'INVALID_ARGUMENT'), String(err));
  t.match(String(err), /inode:\/\/4\/99 is not held by any process/);
  t.same(endpoint.seen.preferences, [], 'the endpoint was not asked');
});

t.test('a KERNEL fallback without interface name or namespace is INVALID_ARGUMENT', async (t) => {
  const { server, req, ctx } = await setup(t, { sameNode: true, memif: false });
  const err = await server.request(ctx, req([MEMIF_OFFER, kernelMechanism()])).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'INVALID_ARGUMENT'));
  t.match(String(err), /KERNEL fallback needs name and inodeURL/);
});
