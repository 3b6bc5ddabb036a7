import t from 'tap';
import { Connection, greMechanism, kernelMechanism, vxlanMechanism, type Mechanism, type NetworkServiceRequest } from '../../../../proto/api.ts';
import { chain, metadata, newCtx, type Element } from '../../../../sdk/chain/index.ts';
import { isNsmError } from '../../../../sdk/errors.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { TunnelIds, TUNNEL_ID_MAX } from '../../../../sidecar/nse/external/tunnel-ids.ts';
import { tunnelAnswer, type Device } from '../../../../sidecar/nse/external/tunnel-answer.ts';

const vxlanOffer = vxlanMechanism({ srcIp: '10.0.0.1', srcPort: 4789 });
vxlanOffer.parameters.MTU = '1450';
const greOffer = greMechanism({ srcIp: '10.0.0.1' });
greOffer.parameters.MTU = '1458';

function setup(device: Device = { ip: '192.0.2.1', mechanisms: ['VXLAN'] }, below?: Element) {
  const ids = new TunnelIds();
  const served = chain([metadata(), tunnelAnswer(device, ids), ...(below ? [below] : [])], { trace: false });
  const ctx = newCtx(silentLogger());
  const req = (offers: Mechanism[] = [vxlanOffer, greOffer], mechanism?: Mechanism, id = 'c-1'): NetworkServiceRequest => ({
    connection: Connection.fromPartial({ id, networkService: 'router', payload: 'ETHERNET', mechanism }),
    mechanismPreferences: offers,
  });
  return { ids, served, ctx, req };
}

t.test('answers a tunnel from the client\'s node to the device, with a number of its own and the offered MTU', async (t) => {
  const { served, ctx, req, ids } = setup();
  const conn = await served.request(ctx, req());
  t.equal(conn.mechanism?.type, 'VXLAN');
  const p = conn.mechanism!.parameters;
  t.same({ src: p.src_ip, dst: p.dst_ip, port: p.dst_port, mtu: p.MTU }, { src: '10.0.0.1', dst: '192.0.2.1', port: '4789', mtu: '1450' });
  t.ok(Number(p.vni) >= 1 && Number(p.vni) <= TUNNEL_ID_MAX, `VNI ${p.vni}`);
  t.equal(conn.context?.MTU, 1450);
  t.equal(ids.size, 1);
  const again = await served.request(ctx, req([vxlanOffer], conn.mechanism));
  t.equal(again.mechanism?.parameters.vni, p.vni, 'a refresh keeps the VNI');
  await served.close(ctx, again);
  t.equal(ids.size, 0, 'Close releases it');
});

t.test('the device\'s order decides among the offered tunnels; GRE carries a key', async (t) => {
  const { served, ctx, req } = setup({ ip: '192.0.2.1', mechanisms: ['GRE', 'VXLAN'] });
  const gre = await served.request(ctx, req());
  t.equal(gre.mechanism?.type, 'GRE');
  t.ok(Number(gre.mechanism?.parameters.key) > 0);
  t.equal(gre.context?.MTU, 1458);
  const vx = await served.request(ctx, req([vxlanOffer], undefined, 'c-2'));
  t.equal(vx.mechanism?.type, 'VXLAN', 'a node without GRE gets VXLAN');
});

t.test('a restarted endpoint keeps the number a refresh carries, when it is free', async (t) => {
  const { served, ctx, req } = setup();
  const before = vxlanMechanism({ srcIp: '10.0.0.1', dstIp: '192.0.2.1', dstPort: 4789, vni: 4242 });
  t.equal((await served.request(ctx, req([vxlanOffer], before))).mechanism?.parameters.vni, '4242');
  const other = vxlanMechanism({ srcIp: '10.0.0.1', dstIp: '192.0.2.1', dstPort: 4789, vni: 4242 });
  t.not((await served.request(ctx, req([vxlanOffer], other, 'c-2'))).mechanism?.parameters.vni, '4242', 'a taken number goes to no one else');
  const elsewhere = vxlanMechanism({ srcIp: '10.0.0.1', dstIp: '192.0.2.99', dstPort: 4789, vni: 77 });
  t.not((await served.request(ctx, req([vxlanOffer], elsewhere, 'c-3'))).mechanism?.parameters.vni, '77', 'nor a number of a tunnel to another device');
});

t.test('no tunnel of the device offered: FAILED_PRECONDITION naming both sides', async (t) => {
  const { served, ctx, req, ids } = setup();
  const err = await served.request(ctx, req([kernelMechanism()])).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'FAILED_PRECONDITION'), String(err));
  t.match((err as Error).message, /stands for an external device at 192\.0\.2\.1, which terminates VXLAN; the forwarder offered KERNEL\/LOCAL \(a forwarder without peering/);
  const v6 = await setup({ ip: '2001:db8::1', mechanisms: ['VXLAN'] }).served.request(ctx, req()).catch((e: unknown) => e);
  t.match(String(v6), /offers a tunnel from 10\.0\.0\.1, but the device is at 2001:db8::1, an address of the other IP family/);
  t.equal(ids.size, 0);
});

t.test('a failure below releases a new number, never one a refresh holds', async (t) => {
  let fail = false;
  const below: Element = { name: 'below', request: async (_ctx, r) => { if (fail) throw new Error('hook failed'); return r.connection!; } };
  const { served, ctx, req, ids } = setup(undefined, below);
  fail = true;
  await t.rejects(served.request(ctx, req()), /hook failed/);
  t.equal(ids.size, 0, 'the first Request failed: its number is free again');
  fail = false;
  const conn = await served.request(ctx, req());
  fail = true;
  await t.rejects(served.request(ctx, req([vxlanOffer], conn.mechanism)), /hook failed/);
  t.equal(ids.size, 1, 'a failed refresh keeps the connection\'s number');
});
