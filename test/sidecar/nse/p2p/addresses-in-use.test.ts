import type { NetworkInterfaceInfo } from 'node:os';
import t from 'tap';
import { pairsOnInterfaces } from '../../../../sidecar/nse/p2p/addresses-in-use.ts';

const v4 = (address: string, prefix: number): NetworkInterfaceInfo => ({ address, netmask: '', family: 'IPv4', mac: '', internal: false, cidr: `${address}/${prefix}` });

t.test('pairs on the forwarder-made ends: /32 with its host route, /31 with its other half; other interfaces are left alone', async (t) => {
  const routes = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'nsm0123456789\t0200000A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
    'eth0\t0300000A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
    'nsm0123456789\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  const pairs = pairsOnInterfaces({
    nsm0123456789: [v4('10.0.0.1', 32)],
    nsmabcdefabcd: [v4('10.0.1.0', 31)],
    eth0: [v4('10.0.0.9', 32)],
    lo: [v4('127.0.0.1', 8)],
  }, () => routes);
  t.same(pairs, [{ dst: '10.0.0.1', src: '10.0.0.2' }, { dst: '10.0.1.0', src: '10.0.1.1' }]);
});
