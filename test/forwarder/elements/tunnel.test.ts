import t from 'tap';
import { Cls, Connection, kernelMechanism, MechanismType, type Mechanism, type NetworkServiceRequest } from '../../../proto/api.ts';
import { chain, metadata, newCtx, type Element } from '../../../sdk/chain/index.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { KernelError } from '../../../forwarder/dataplane/kernel-error.ts';
import type { KernelOp } from '../../../forwarder/dataplane/kernel-op.ts';
import { deleteGroup, setBridgePort, setLink } from '../../../forwarder/dataplane/ops.ts';
import { ipBatchLine } from '../../../forwarder/dataplane/ip/format.ts';
import type { Netns, RunOptions } from '../../../forwarder/dataplane/runner.ts';
import { FORWARDER_SUPPORTS, negotiateMechanism } from '../../../forwarder/elements/negotiate.ts';
import { tunnelClient } from '../../../forwarder/elements/tunnel-client.ts';
import { tunnelEndpoint } from '../../../forwarder/elements/tunnel-endpoint.ts';
import { supportedTunnels, tunnelOrder, type Tunnels } from '../../../forwarder/tunnels/tunnels.ts';
import { VniAllocator } from '../../../forwarder/tunnels/vni.ts';
import type { AdoptionTable } from '../../../forwarder/dataplane/adoption.ts';
import { FakeNetns, RecordingRunner } from '../../fixtures/kernel.ts';

const VNI_TAKEN = 'Error: A VXLAN device with the specified VNI already exists.';

/** Fails the first `times` ops for which `pattern` holds, like the kernel would. */
class FlakyRunner extends RecordingRunner {
  pattern: ((op: KernelOp) => boolean) | undefined;
  times = 0;
  override async run(netns: Netns, ops: readonly KernelOp[], options: RunOptions = {}): Promise<void> {
    const bad = ops.find((op) => this.pattern?.(op));
    if (bad && this.times > 0) {
      this.times--;
      this.steps.push({ netns: netns.key, ops, finally: options.finally ?? [] });
      throw KernelError.refused(bad, netns.path, this.message);
    }
    return super.run(netns, ops, options);
  }
}

const isVxlan = (op: KernelOp) => op.op === 'add-vxlan';
const hasAlias = (op: KernelOp) => op.op === 'set-link' && op.alias !== undefined;

const node = (ip: string, order = ['VXLAN', 'GRE'], gre = true): Tunnels => ({
  underlay: { ip, ifname: 'ul0', mtu: 1500 }, vxlanPort: 4789, order: tunnelOrder(order),
  linkTypes: { vxlan: { available: true }, gre: gre ? { available: true } : { available: false, reason: 'Error: Unknown device type.' }, gretap: gre ? { available: true } : { available: false, reason: 'Error: Unknown device type.' } },
});

function fakeEndpoint(answer: () => Mechanism = () => kernelMechanism({ inodeURL: 'inode://4/200' })) {
  const calls = { requests: 0, closes: 0, mtu: 0 };
  const element: Element = {
    name: 'endpoint',
    request: async (_ctx, req) => {
      calls.requests++;
      calls.mtu = req.connection?.context?.MTU ?? 0;
      return Connection.fromPartial({
        ...req.connection,
        mechanism: answer(),
        context: { ...req.connection?.context, ipContext: { srcIpAddrs: ['10.0.0.2/32'], dstIpAddrs: ['10.0.0.1/32'] } },
      });
    },
    close: async () => { calls.closes++; },
  };
  return { element, calls };
}

function setup(a: Tunnels = node('192.168.0.1'), b: Tunnels = node('192.168.0.2'), answer?: () => Mechanism, offer = kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/100' })) {
  const netns = new FakeNetns();
  const runnerA = new FlakyRunner();
  const runnerB = new FlakyRunner();
  const vnisA = new VniAllocator();
  const vnisB = new VniAllocator();
  const endpoint = fakeEndpoint(answer);
  const sideB = chain([metadata(), negotiateMechanism([...FORWARDER_SUPPORTS, ...supportedTunnels(b)]), tunnelEndpoint({ runner: runnerB, resolver: netns, tunnels: b, vnis: vnisB }), endpoint.element], { trace: false });
  const toB: Element = { name: 'peer', request: (ctx, req) => sideB.request(ctx, req), close: (ctx, conn) => sideB.close(ctx, conn) };
  const sideA = chain([metadata(), negotiateMechanism(), tunnelClient({ runner: runnerA, resolver: netns, tunnels: a, vnis: vnisA }), toB], { trace: false });
  const ctx = newCtx(silentLogger());
  const req = (payload = 'ETHERNET', conn?: Connection): NetworkServiceRequest => ({
    connection: conn ?? Connection.fromPartial({ id: 'conn-1', networkService: 'svc', payload }),
    mechanismPreferences: [offer],
  });
  return { runnerA, runnerB, vnisA, vnisB, endpoint, sideA, ctx, req };
}

t.test('VXLAN: the endpoint side allocates the VNI, both ends are created straight in the pods', async (t) => {
  const { runnerA, runnerB, sideA, ctx, req, endpoint } = setup();
  const conn = await sideA.request(ctx, req());
  t.equal(conn.mechanism?.type, MechanismType.KERNEL, 'the client keeps its KERNEL mechanism');
  const vni = Number(conn.context?.extraContext.tunnel_vni);
  t.equal(conn.context?.extraContext.tunnel, 'VXLAN');
  t.equal(vni % 2, 0, 'even: the client side has the lower address');
  t.equal(conn.context?.MTU, 1450, 'MTU 1500 - 50');
  t.equal(endpoint.calls.mtu, 1450, 'the endpoint is asked with the tunnel MTU');
  t.same(runnerA.opsIn('node'), [{ op: 'add-vxlan', name: 'nsm-1', netns: '/proc/100/ns/net', local: '192.168.0.1', remote: '192.168.0.2', underlay: 'ul0', vni: Number(vni), dstPort: 4789 }]);
  t.equal(ipBatchLine(runnerA.opsIn('node')[0]), `link add name nsm-1 netns /proc/100/ns/net type vxlan id ${vni} local 192.168.0.1 remote 192.168.0.2 dstport 4789 dev ul0`);
  t.match(runnerA.opsIn('ns100'), [setLink({ name: 'nsm-1', alias: 'nsm:conn-1', group: 7780, mtu: 1450, up: true }), { op: 'add-address', name: 'nsm-1', address: '10.0.0.2/32' }]);
  t.match(runnerB.opsIn('node'), [{ op: 'add-vxlan', name: /^nsm[0-9a-f]{10}$/, netns: '/proc/200/ns/net', vni: Number(vni), local: '192.168.0.2', remote: '192.168.0.1', dstPort: 4789, underlay: 'ul0' }]);
  t.match(runnerB.opsIn('ns200'), [{ op: 'set-link', alias: 'nsm:conn-1', group: 7780, mtu: 1450, up: true }, { op: 'add-address', address: '10.0.0.1/32' }]);

  const steps = runnerA.steps.length + runnerB.steps.length;
  await sideA.request(ctx, req('ETHERNET', conn));
  t.equal(runnerA.steps.length + runnerB.steps.length, steps, 'a refresh changes nothing in the kernel');
});

t.test('GRE first by priority: gretap for ETHERNET, gre for IP, with their MTUs', async (t) => {
  for (const [payload, kind, mtu] of [['ETHERNET', 'gretap', 1458], ['IP', 'gre', 1472]] as const) {
    const { runnerA, sideA, ctx, req } = setup(node('192.168.0.1', ['GRE']), node('192.168.0.2', ['GRE']));
    const conn = await sideA.request(ctx, req(payload));
    t.equal(conn.context?.extraContext.tunnel, 'GRE');
    t.match(runnerA.opsIn('node'), [{ op: 'add-gre', kind, name: 'nsm-1', netns: '/proc/100/ns/net', local: '192.168.0.1', remote: '192.168.0.2', key: Number, underlay: 'ul0' }]);
    t.equal(conn.context?.MTU, mtu, `${payload}: MTU ${mtu}`);
  }
});

t.test('the endpoint side takes the first offer it can build', async (t) => {
  const { runnerB, sideA, ctx, req } = setup(node('192.168.0.1', ['GRE']), node('192.168.0.2', ['GRE'], false));
  const conn = await sideA.request(ctx, req());
  t.equal(conn.context?.extraContext.tunnel, 'VXLAN', 'GRE was offered first but node B has no gretap');
  t.match(runnerB.opsIn('node'), [{ op: 'add-vxlan' }]);
});

t.test('a node that can build no tunnel for the payload says why', async (t) => {
  const none: Tunnels = { ...node('192.168.0.1'), linkTypes: { vxlan: { available: false, reason: 'Error: Unknown device type.' }, gretap: { available: false, reason: 'Error: Unknown device type.' } } };
  const { sideA, ctx, req } = setup(none);
  await t.rejects(sideA.request(ctx, req()), { code: 'FAILED_PRECONDITION', message: /can build no tunnel for ETHERNET payload .*VXLAN: this kernel cannot create vxlan links \(Error: Unknown device type\.\)/ });
});

t.test('a VNI already used on the client node: the peer side is closed and the request repeated', async (t) => {
  const { runnerA, sideA, ctx, req, endpoint, vnisB } = setup();
  runnerA.pattern = isVxlan;
  runnerA.times = 1;
  runnerA.message = VNI_TAKEN;
  const conn = await sideA.request(ctx, req());
  t.equal(endpoint.calls.requests, 2, 'asked twice');
  t.equal(endpoint.calls.closes, 1, 'the first attempt was closed at the endpoint');
  t.equal(vnisB.size, 1, 'the peer released the first VNI');
  t.equal(runnerA.opsIn('node').filter(isVxlan).length, 2);
  t.ok(conn.context?.extraContext.tunnel_vni);
});

t.test('a VNI the endpoint node already uses is replaced there', async (t) => {
  const { runnerB, sideA, ctx, req, endpoint, vnisB } = setup();
  runnerB.pattern = isVxlan;
  runnerB.times = 1;
  runnerB.message = VNI_TAKEN;
  const conn = await sideA.request(ctx, req());
  const created = runnerB.opsIn('node').map((op) => String(op.op === 'add-vxlan' && op.vni));
  t.equal(created.length, 2);
  t.not(created[0], created[1], 'a new VNI on the second try');
  t.equal(conn.context?.extraContext.tunnel_vni, created[1], 'the client hears the VNI that was built');
  t.equal(endpoint.calls.closes, 0);
  t.equal(vnisB.size, 1);
});

t.test('rollback: an endpoint-side kernel failure leaves nothing on either node', async (t) => {
  const { runnerA, runnerB, sideA, ctx, req, endpoint, vnisA, vnisB } = setup();
  runnerB.pattern = hasAlias;
  runnerB.times = 1;
  await t.rejects(sideA.request(ctx, req()), { code: 'INTERNAL', message: /Operation not permitted/ });
  t.same(runnerA.steps, [], 'nothing was created on the client node');
  t.match(runnerB.opsIn('ns200').slice(-2), [{ op: 'set-link', name: /^nsm[0-9a-f]{10}$/, group: 7781 }, deleteGroup(7781)], 'the endpoint-side device was removed');
  t.equal(endpoint.calls.closes, 1, 'the endpoint side was closed');
  t.equal(vnisA.size + vnisB.size, 0, 'no VNI held');
});

t.test('close removes both ends and frees the VNIs', async (t) => {
  const { runnerA, runnerB, sideA, ctx, req, endpoint, vnisA, vnisB } = setup();
  const conn = await sideA.request(ctx, req());
  t.equal(vnisA.size + vnisB.size, 2);
  await sideA.close(ctx, conn);
  t.same(runnerA.opsIn('ns100').slice(-2), [setLink({ name: 'nsm-1', group: 7781 }), deleteGroup(7781)]);
  t.match(runnerB.opsIn('ns200').slice(-2), [{ op: 'set-link', name: /^nsm[0-9a-f]{10}$/, group: 7781 }, deleteGroup(7781)]);
  t.equal(endpoint.calls.closes, 1);
  t.equal(vnisA.size + vnisB.size, 0);
});

t.test('offers carry the REMOTE class and only the client half of the parameters', async (t) => {
  const { supportedTunnels: s } = await import('../../../forwarder/tunnels/tunnels.ts');
  t.same(s(node('10.0.0.1', ['GRE', 'KERNEL'])), [{ type: 'GRE', cls: Cls.REMOTE }, { type: 'VXLAN', cls: Cls.REMOTE }]);
  t.same(tunnelOrder(['kernel', 'gre']), ['GRE', 'VXLAN'], 'case-insensitive; unlisted tunnels follow');
});

t.test('a restarted forwarder adopts its tunnel ends and keeps their VNIs taken on both sides', async (t) => {
  const netns = new FakeNetns();
  const runnerA = new RecordingRunner();
  const runnerB = new RecordingRunner();
  const vnisA = new VniAllocator();
  const vnisB = new VniAllocator();
  // Each node's previous forwarder left its end of conn-1.
  const leftBehind = () => {
    const found = new Set(['conn-1']);
    return { owner: '', claim: (id: string) => (found.delete(id) ? [] : undefined) } as unknown as AdoptionTable;
  };
  const adoption = leftBehind();
  const b = node('192.168.0.2');
  const sideB = chain([metadata(), negotiateMechanism([...FORWARDER_SUPPORTS, ...supportedTunnels(b)]), tunnelEndpoint({ runner: runnerB, resolver: netns, tunnels: b, vnis: vnisB, adoption: leftBehind() }), fakeEndpoint().element], { trace: false });
  const toB: Element = { name: 'peer', request: (ctx, req) => sideB.request(ctx, req), close: (ctx, conn) => sideB.close(ctx, conn) };
  const sideA = chain([metadata(), negotiateMechanism(), tunnelClient({ runner: runnerA, resolver: netns, tunnels: node('192.168.0.1'), vnis: vnisA, adoption }), toB], { trace: false });
  const conn = await sideA.request(newCtx(silentLogger()), {
    connection: Connection.fromPartial({ id: 'conn-1', networkService: 'svc', payload: 'ETHERNET' }),
    mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/100' })],
  });
  t.same(runnerA.opsIn('ns100'), [], 'the client end is adopted, not created again');
  const vni = Number(conn.context?.extraContext.tunnel_vni);
  t.ok(vni > 0, 'the connection reports its VNI');
  t.notOk(vnisA.reserve(vni), 'the adopted VNI is taken on the client node');
  t.same([...runnerB.opsIn('node'), ...runnerB.opsIn('ns200')], [], 'the endpoint end is adopted, not created again');
  t.notOk(vnisB.reserve(vni), 'and the VNI is taken on the endpoint node');
});

t.test('a link between bridges on two nodes: each tunnel end an isolated port of its bridge, flagged before it is raised', async (t) => {
  const answer = () => kernelMechanism({ inodeURL: 'inode://4/200', bridge: 'nsm-br', isolated: true });
  const offer = kernelMechanism({ name: 'nsmpabc', inodeURL: 'inode://4/100', bridge: 'nsm-br', isolated: true });
  const { runnerA, runnerB, sideA, ctx, req } = setup(undefined, undefined, answer, offer);
  await sideA.request(ctx, req());
  t.same(runnerA.opsIn('ns100'), [
    setLink({ name: 'nsmpabc', alias: 'nsm:conn-1', group: 7780, mtu: 1450 }), setLink({ name: 'nsmpabc', master: 'nsm-br' }),
    setBridgePort({ name: 'nsmpabc', isolated: true }), setLink({ name: 'nsmpabc', up: true }),
  ], 'no address on a port: it carries the bridges\' frames');
  const [vx] = runnerB.opsIn('node');
  t.match(runnerB.opsIn('ns200'), [{ op: 'set-link', name: (vx as { name: string }).name, mtu: 1450 }, { op: 'set-link', master: 'nsm-br' }, { op: 'set-bridge-port', isolated: true }, { op: 'set-link', up: true }]);
});

t.test('a refresh the endpoint answers from another namespace (it was recreated) makes its tunnel end there, same VNI', async (t) => {
  let inode = 200;
  const { runnerB, sideA, ctx, req, endpoint } = setup(undefined, undefined, () => kernelMechanism({ inodeURL: `inode://4/${inode}` }));
  const conn = await sideA.request(ctx, req());
  const [first] = runnerB.opsIn('node') as Array<{ vni: number; name: string }>;
  runnerB.steps.length = 0;
  inode = 201;
  await sideA.request(ctx, req('ETHERNET', conn));
  t.match(runnerB.steps[0], { netns: 'ns200', ops: [setLink({ name: first.name, group: 7781 })] }, 'the old end goes');
  t.match(runnerB.opsIn('node'), [{ op: 'add-vxlan', name: first.name, netns: '/proc/201/ns/net', vni: first.vni }], 'made again in the new namespace with the same VNI');
  t.match(runnerB.opsIn('ns201'), [{ op: 'set-link', alias: 'nsm:conn-1', up: true }]);
  t.equal(endpoint.calls.closes, 0);
});
