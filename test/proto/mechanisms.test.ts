import t from 'tap';
import { Connection } from '../../proto/api.ts';
import { bridgePortOf, greMechanism, intParam, isMechanism, kernelMechanism, Keys, memifMechanism, vxlanMechanism } from '../../proto/mechanisms.ts';
import { currentSegment, earliestExpiry, nextSegment, previousSegment } from '../../proto/path.ts';

t.test('mechanism constructors use upstream types, classes and keys', async (t) => {
  t.same(kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/4026532' }), { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1', inodeURL: 'inode://4/4026532' } });
  t.same(memifMechanism({ socketfile: '/var/lib/networkservicemesh/memif/a.sock', id: 3 }), { cls: 'LOCAL', type: 'MEMIF', parameters: { socketfile: '/var/lib/networkservicemesh/memif/a.sock', id: '3' } });
  t.same(vxlanMechanism({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 4789, vni: 42 }).parameters, { src_ip: '10.0.0.1', dst_ip: '10.0.0.2', dst_port: '4789', vni: '42' });
  t.same(greMechanism({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', key: 7 }), { cls: 'REMOTE', type: 'GRE', parameters: { src_ip: '10.0.0.1', dst_ip: '10.0.0.2', key: '7' } });
  t.same(kernelMechanism(), { cls: 'LOCAL', type: 'KERNEL', parameters: {} });
  t.ok(isMechanism(kernelMechanism(), 'KERNEL'));
  t.notOk(isMechanism(undefined, 'KERNEL'));
  t.notOk(isMechanism(vxlanMechanism(), 'GRE'));
});

t.test('intParam reads integers and names a bad key', async (t) => {
  const m = vxlanMechanism({ vni: 12 });
  t.equal(intParam(m, Keys.vni), 12);
  t.equal(intParam(m, Keys.dstPort), undefined);
  m.parameters[Keys.vni] = '1x';
  t.throws(() => intParam(m, Keys.vni), /VXLAN parameter vni="1x" is not a non-negative integer/);
});

t.test('path helpers follow the index', async (t) => {
  const conn = Connection.fromPartial({
    path: { index: 1, pathSegments: [
      { name: 'nsc', id: 'a', expires: new Date(3000) },
      { name: 'fwd', id: 'b', expires: new Date(1000) },
      { name: 'nse', id: 'c' },
    ] },
  });
  t.equal(currentSegment(conn)?.name, 'fwd');
  t.equal(previousSegment(conn)?.name, 'nsc');
  t.equal(nextSegment(conn)?.name, 'nse');
  t.same(earliestExpiry(conn), new Date(1000));
  const empty = Connection.fromPartial({});
  t.equal(currentSegment(empty), undefined);
  t.equal(previousSegment(empty), undefined);
  t.equal(earliestExpiry(empty), undefined);
});

t.test('a KERNEL mechanism can name the bridge its end joins, and whether the port is isolated', async (t) => {
  t.same(kernelMechanism({ inodeURL: 'inode://4/9', bridge: 'nsm-br', isolated: true }).parameters, { inodeURL: 'inode://4/9', bridge: 'nsm-br', isolated: 'true' });
  t.same(kernelMechanism({ bridge: 'nsm-br', isolated: false }).parameters, { bridge: 'nsm-br' });
  t.same(bridgePortOf(kernelMechanism({ bridge: 'nsm-br', isolated: true })), { bridge: 'nsm-br', isolated: true });
  t.same(bridgePortOf(kernelMechanism({ bridge: 'nsm-br' })), { bridge: 'nsm-br', isolated: false });
  t.equal(bridgePortOf(kernelMechanism({ name: 'nsm-1' })), undefined, 'an end of its own');
  t.equal(bridgePortOf({ ...memifMechanism(), parameters: { bridge: 'x' } }), undefined, 'only KERNEL ends join bridges');
  t.equal(bridgePortOf(undefined), undefined);
});
