import t from 'tap';
import { Connection, kernelMechanism, type ConnectionContext, type DeepPartial, type Mechanism, type NetworkServiceRequest } from '../../../proto/api.ts';
import { chain, metadata, newCtx, type Element } from '../../../sdk/chain/index.ts';
import { isNsmError } from '../../../sdk/errors.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { kernelVeth } from '../../../forwarder/elements/kernel-veth.ts';
import { negotiateMechanism } from '../../../forwarder/elements/negotiate.ts';
import { addAddress, addVeth, deleteGroup, replaceRoute, setBridgePort, setLink } from '../../../forwarder/dataplane/ops.ts';
import { createPair, endpointIfname } from '../../../forwarder/dataplane/veth.ts';
import { FakeNetns, RecordingRunner } from '../../fixtures/kernel.ts';

interface Answer {
  mechanism: Mechanism;
  context: DeepPartial<ConnectionContext>;
}

const p2pAnswer = (): Answer => ({
  mechanism: kernelMechanism({ inodeURL: 'inode://4/200' }),
  context: { ipContext: { srcIpAddrs: ['10.0.0.2/32'], dstIpAddrs: ['10.0.0.1/32'], srcRoutes: [{ prefix: '10.0.0.1/32' }], dstRoutes: [{ prefix: '10.0.0.2/32' }] }, MTU: 1400 },
});

/** An endpoint that answers with its namespace (inode 200) and a point-to-point IP context (or what `answer` says), and counts Closes. */
function fakeEndpoint(answer: () => Answer = p2pAnswer) {
  const calls = { requests: 0, closes: 0 };
  const element: Element = {
    name: 'endpoint',
    request: async (_ctx, req) => {
      calls.requests++;
      return Connection.fromPartial({ ...req.connection, ...answer() });
    },
    close: async () => { calls.closes++; },
  };
  return { element, calls };
}

function setup(answer?: () => Answer, offer = kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/100' })) {
  const runner = new RecordingRunner();
  const netns = new FakeNetns();
  const endpoint = fakeEndpoint(answer);
  const server = chain([metadata(), negotiateMechanism(), kernelVeth(runner, netns), endpoint.element], { trace: false });
  const ctx = newCtx(silentLogger());
  const req = (conn?: Connection): NetworkServiceRequest => ({
    connection: conn ?? Connection.fromPartial({ id: 'conn-1', networkService: 'svc' }),
    mechanismPreferences: [offer],
  });
  return { runner, netns, endpoint, server, ctx, req };
}

t.test('creates one veth pair straight between the namespaces with the endpoint end configured, then configures the client end', async (t) => {
  const { runner, server, ctx, req } = setup();
  const conn = await server.request(ctx, req());
  t.equal(conn.mechanism?.parameters.name, 'nsm-1', 'the client hears about its own mechanism');
  t.same(runner.opsIn('node'), [], 'nothing in the node namespace');
  t.same(runner.opsIn('ns100'), [
    setLink({ name: 'nsm-1', alias: 'nsm:conn-1', group: 7780, mtu: 1400, up: true }),
    addAddress({ name: 'nsm-1', address: '10.0.0.2/32' }),
    replaceRoute({ name: 'nsm-1', dst: '10.0.0.1/32', scopeLink: true }),
  ]);
  const ep = endpointIfname('conn-1');
  t.match(ep, /^nsm[0-9a-f]{10}$/);
  t.same(runner.opsIn('ns200'), [
    createPair(ep, 'nsm-1', { path: '/proc/100/ns/net', key: 'ns100' }),
    setLink({ name: ep, alias: 'nsm:conn-1', group: 7780, mtu: 1400, up: true }),
    addAddress({ name: ep, address: '10.0.0.1/32' }),
    replaceRoute({ name: ep, dst: '10.0.0.2/32', scopeLink: true }),
  ]);
  t.same(runner.steps.map((s) => s.netns), ['ns200', 'ns100'], 'two batches: endpoint (create and configure), then client');
});

t.test('a refresh changes nothing in the kernel', async (t) => {
  const { runner, server, ctx, req, endpoint } = setup();
  const conn = await server.request(ctx, req());
  const before = runner.steps.length;
  await server.request(ctx, req(conn));
  t.equal(runner.steps.length, before);
  t.equal(endpoint.calls.requests, 2, 'the refresh still reaches the endpoint');
});

t.test('Close removes the pair through the doomed group and closes the endpoint side', async (t) => {
  const { runner, server, ctx, req, endpoint } = setup();
  const conn = await server.request(ctx, req());
  runner.steps.length = 0;
  await server.close(ctx, conn);
  t.same(runner.steps, [{ netns: 'ns100', ops: [setLink({ name: 'nsm-1', group: 7781 })], finally: [deleteGroup(7781)] }]);
  t.equal(endpoint.calls.closes, 1);
});

t.test('a failure configuring the endpoint end rolls back the pair and the endpoint connection', async (t) => {
  const { runner, server, ctx, req, endpoint } = setup();
  runner.failOn = (op) => op.op === 'add-address' && op.address.startsWith('10.0.0.1/');
  const err = await server.request(ctx, req()).catch((e: unknown) => e);
  t.ok(err instanceof Error && /kernel refused add-address 10\.0\.0\.1/.test(err.message), String(err));
  t.same(runner.steps.at(-1), { netns: 'ns100', ops: [setLink({ name: 'nsm-1', group: 7781 })], finally: [deleteGroup(7781)] }, 'pair deleted');
  t.equal(endpoint.calls.closes, 1, 'endpoint side closed');
});

t.test('an interface name already taken is ALREADY_EXISTS, nothing to delete', async (t) => {
  const { runner, server, ctx, req, endpoint } = setup();
  runner.failOn = (op) => op.op === 'add-veth';
  runner.message = 'RTNETLINK answers: File exists';
  const err = await server.request(ctx, req()).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'ALREADY_EXISTS'), String(err));
  t.match(String((err as Error).message), /interface nsm-1 already exists in the client's network namespace/);
  t.equal(runner.steps.length, 1, 'no delete of what was never created');
  t.equal(endpoint.calls.closes, 1);
});

t.test('an endpoint namespace nobody holds fails and closes the endpoint side', async (t) => {
  const { runner, netns, server, ctx, req, endpoint } = setup();
  netns.missing.add('inode://4/200');
  const err = await server.request(ctx, req()).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'INVALID_ARGUMENT'));
  t.equal(runner.steps.length, 0);
  t.equal(endpoint.calls.closes, 1);
});

t.test('a hostile interface name or connection id is INVALID_ARGUMENT naming the field; nothing reaches the kernel', async (t) => {
  for (const [name, id, field] of [
    ['k1 netns /proc/1/ns/net #', 'conn-1', 'peer'],
    ['a%d', 'conn-1', 'peer'],
    ['nsm-1', 'conn "1"', 'alias'],
    ['nsm-1', 'conn\t1', 'alias'],
  ]) {
    const { runner, server, ctx, endpoint } = setup();
    const err = await server.request(ctx, {
      connection: Connection.fromPartial({ id, networkService: 'svc' }),
      mechanismPreferences: [kernelMechanism({ name, inodeURL: 'inode://4/100' })],
    }).catch((e: unknown) => e);
    t.ok(isNsmError(err, 'INVALID_ARGUMENT'), `${JSON.stringify(name)} / ${JSON.stringify(id)}: ${String(err)}`);
    t.match(err, { field }, 'names the field');
    t.same(runner.steps, [], 'nothing ran');
    t.equal(endpoint.calls.closes, 1, 'the endpoint side is closed');
  }
});

/** A bridge endpoint's answer: its namespace and bridge, the client's address on the shared subnet and its MAC. */
const bridgeAnswer = (inode = 200, mtu = 0, isolated = false) => (): Answer => ({
  mechanism: kernelMechanism({ inodeURL: `inode://4/${inode}`, bridge: 'nsm-br', isolated }),
  context: { ipContext: { srcIpAddrs: ['10.60.0.2/24'], dstIpAddrs: ['10.60.0.1/24'] }, ethernetContext: { srcMac: '02:6e:0a:3c:00:02', dstMac: '02:6e:0a:3c:00:01' }, MTU: mtu },
});

t.test('an endpoint that names its bridge gets its end enslaved and raised after; the client end takes the MAC of its context', async (t) => {
  const { runner, server, ctx, req } = setup(bridgeAnswer());
  await server.request(ctx, req());
  const ep = endpointIfname('conn-1');
  t.same(runner.opsIn('ns200'), [
    createPair(ep, 'nsm-1', { path: '/proc/100/ns/net', key: 'ns100' }),
    setLink({ name: ep, alias: 'nsm:conn-1', group: 7780 }),
    setLink({ name: ep, master: 'nsm-br' }),
    setLink({ name: ep, up: true }),
  ], 'the endpoint end is a port of nsm-br: no address, no MAC (those are the bridge\'s), not isolated');
  t.same(runner.opsIn('ns100'), [
    setLink({ name: 'nsm-1', alias: 'nsm:conn-1', group: 7780, mac: '02:6e:0a:3c:00:02', up: true }),
    addAddress({ name: 'nsm-1', address: '10.60.0.2/24' }),
  ], 'the client end: its MAC and its address with the subnet\'s length; the bridge\'s address is on that subnet, so no route');
});

t.test('a link between two bridges: both ends isolated ports, the flag set while the port is down', async (t) => {
  const { runner, server, ctx, req } = setup(bridgeAnswer(200, 0, true), kernelMechanism({ name: 'nsmpabc', inodeURL: 'inode://4/100', bridge: 'nsm-br', isolated: true }));
  await server.request(ctx, req());
  const ep = endpointIfname('conn-1');
  t.same(runner.opsIn('ns200').slice(1), [
    setLink({ name: ep, alias: 'nsm:conn-1', group: 7780 }), setLink({ name: ep, master: 'nsm-br' }), setBridgePort({ name: ep, isolated: true }), setLink({ name: ep, up: true }),
  ]);
  t.same(runner.opsIn('ns100'), [
    setLink({ name: 'nsmpabc', alias: 'nsm:conn-1', group: 7780 }), setLink({ name: 'nsmpabc', master: 'nsm-br' }), setBridgePort({ name: 'nsmpabc', isolated: true }), setLink({ name: 'nsmpabc', up: true }),
  ], 'the client end joins the bridge of the client\'s own namespace');
});

t.test('a refresh with a smaller MTU from the endpoint sets it on both ends; the same MTU changes nothing', async (t) => {
  let mtu = 0;
  const { runner, server, ctx, req } = setup(() => bridgeAnswer(200, mtu)());
  const conn = await server.request(ctx, req());
  runner.steps.length = 0;
  await server.request(ctx, req(conn));
  t.same(runner.steps, [], 'unchanged: nothing in the kernel');
  mtu = 1450;
  await server.request(ctx, req(conn));
  t.same(runner.steps.map((s) => [s.netns, s.ops]), [['ns200', [setLink({ name: endpointIfname('conn-1'), mtu: 1450 })]], ['ns100', [setLink({ name: 'nsm-1', mtu: 1450 })]]]);
  runner.steps.length = 0;
  await server.request(ctx, req(conn));
  t.same(runner.steps, [], 'taken once');
});

t.test('a refresh the endpoint answers from another namespace (it was recreated) makes the pair anew there', async (t) => {
  let inode = 200;
  const { runner, server, ctx, req, endpoint } = setup(() => bridgeAnswer(inode)());
  const conn = await server.request(ctx, req());
  runner.steps.length = 0;
  inode = 201;
  await server.request(ctx, req(conn));
  t.same(runner.steps[0], { netns: 'ns100', ops: [setLink({ name: 'nsm-1', group: 7781 })], finally: [deleteGroup(7781)] }, 'the old pair goes first');
  t.same(runner.opsIn('ns201')[0], addVeth({ name: endpointIfname('conn-1'), peer: 'nsm-1', peerNetns: '/proc/100/ns/net' }), 'the new one is made in the new namespace');
  t.equal(endpoint.calls.closes, 0, 'the connection stays');
});
