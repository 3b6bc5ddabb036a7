import t from 'tap';
import { execFileSync } from 'node:child_process';
import { findUnderlay, type IpJson } from '../../../forwarder/tunnels/underlay.ts';

const addrs = [
  { ifname: 'lo', mtu: 65536, addr_info: [{ family: 'inet', local: '127.0.0.1', scope: 'host' }] },
  { ifname: 'eth0', mtu: 9000, addr_info: [{ family: 'inet6', local: 'fe80::1', scope: 'link' }, { family: 'inet', local: '10.0.0.7', scope: 'global' }] },
  { ifname: 'eth1', mtu: 1500, addr_info: [{ family: 'inet', local: '192.168.50.2', scope: 'global' }] },
];
function fake(routes4: unknown[], routes6: unknown[] = []): IpJson {
  return async (args) => (args[0] === 'addr' ? addrs : args[0] === '-4' ? routes4 : routes6);
}

t.test('default: the global address of the default-route interface, with its MTU', async (t) => {
  t.same(await findUnderlay('', fake([{ dst: 'default', dev: 'eth0' }])), { ip: '10.0.0.7', ifname: 'eth0', mtu: 9000 });
  t.same(await findUnderlay('', fake([], [{ dst: 'default', dev: 'eth1' }])), { ip: '192.168.50.2', ifname: 'eth1', mtu: 1500 });
});

t.test('NSM_TUNNEL_IP picks its own interface', async (t) => {
  t.same(await findUnderlay('192.168.50.2', fake([{ dst: 'default', dev: 'eth0' }])), { ip: '192.168.50.2', ifname: 'eth1', mtu: 1500 });
  await t.rejects(findUnderlay('10.9.9.9', fake([])), { code: 'FAILED_PRECONDITION', message: /NSM_TUNNEL_IP=10\.9\.9\.9 is not an address of this host/ });
  await t.rejects(findUnderlay('node-a', fake([])), { code: 'INVALID_ARGUMENT' });
});

t.test('no usable default route says what to set', async (t) => {
  await t.rejects(findUnderlay('', fake([{ dst: 'default', dev: 'lo' }])), /set NSM_TUNNEL_IP/);
  await t.rejects(findUnderlay('', fake([])), /set NSM_TUNNEL_IP/);
});

const root = process.getuid?.() === 0;
t.test('real kernel, inside a namespace the test makes', { skip: root ? false : 'needs root' }, async (t) => {
  const ns = `nsm-ul-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const ip = (...args: string[]) => execFileSync('ip', ['-n', ns, ...args]);
  execFileSync('ip', ['netns', 'add', ns]);
  t.teardown(() => execFileSync('ip', ['netns', 'del', ns]));
  ip('link', 'add', 'ul0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'ul1');
  ip('addr', 'add', '10.251.77.1/24', 'dev', 'ul0');
  ip('link', 'set', 'ul0', 'up');
  ip('link', 'set', 'ul1', 'up');
  ip('route', 'add', 'default', 'via', '10.251.77.2');
  const inNs: IpJson = async (args) => JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' }) || '[]');
  t.same(await findUnderlay('', inNs), { ip: '10.251.77.1', ifname: 'ul0', mtu: 1400 });
});
