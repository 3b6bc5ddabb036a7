import fc from 'fast-check';
import t from 'tap';
import { ipBatchLine, ipWords } from '../../../../forwarder/dataplane/ip/format.ts';
import { KernelError } from '../../../../forwarder/dataplane/kernel-error.ts';
import type { KernelOp } from '../../../../forwarder/dataplane/kernel-op.ts';
import {
  addAddress, addBridge, addGre, addVeth, addVxlan, deleteGroup, deleteLink, moveLink, renameLink, replaceRoute, setBridgePort, setLink,
} from '../../../../forwarder/dataplane/ops.ts';

t.test('each op as the ip batch line that carries it out', async (t) => {
  const cases: Array<[KernelOp, string]> = [
    [addVeth({ name: 'nsm-ep', peer: 'nsm-1', peerNetns: '/proc/42/ns/net' }), 'link add name nsm-ep type veth peer name nsm-1 netns /proc/42/ns/net'],
    [setLink({ name: 'nsm-1', alias: 'nsm:a:conn-1', group: 7780, mtu: 1400, up: true }), 'link set dev nsm-1 alias nsm:a:conn-1 group 7780 mtu 1400 up'],
    [setLink({ name: 'p1', mac: '02:00:00:00:00:01', master: 'br0', up: false }), 'link set dev p1 address 02:00:00:00:00:01 master br0 down'],
    [setLink({ name: 'p1', master: null }), 'link set dev p1 nomaster'],
    [setLink({ name: 'nsm-1', group: 7781 }), 'link set dev nsm-1 group 7781'],
    [addAddress({ name: 'nsm-1', address: 'fd00::2/128' }), 'address add fd00::2/128 dev nsm-1'],
    [replaceRoute({ name: 'nsm-1', dst: '10.0.0.1/32', scopeLink: true }), 'route replace 10.0.0.1/32 dev nsm-1 scope link'],
    [replaceRoute({ name: 'nsm-1', dst: '0.0.0.0/0', via: '10.0.0.1' }), 'route replace 0.0.0.0/0 via 10.0.0.1 dev nsm-1'],
    [addBridge({ name: 'br0' }), 'link add name br0 type bridge'],
    [addBridge({ name: 'br0', ageingSeconds: 10, stp: false }), 'link add name br0 type bridge ageing_time 1000 stp_state 0'],
    [setBridgePort({ name: 'p1', isolated: true, learning: false, unicastFlood: true, multicastFlood: false, broadcastFlood: true, neighSuppress: true, hairpin: false }),
      'link set dev p1 type bridge_slave isolated on learning off flood on mcast_flood off bcast_flood on neigh_suppress on hairpin off'],
    [moveLink({ name: 'eth3', netns: '/proc/42/ns/net', newName: 'nsm-dev' }), 'link set dev eth3 netns /proc/42/ns/net name nsm-dev'],
    [moveLink({ name: 'eth3', netns: '/run/netns/pod' }), 'link set dev eth3 netns /run/netns/pod'],
    [renameLink({ name: 'dev7', newName: 'radio0' }), 'link set dev dev7 name radio0'],
    [addVxlan({ name: 'nsm-1', netns: '/proc/42/ns/net', vni: 5, local: '10.0.0.1', remote: '10.0.0.2', dstPort: 4789, underlay: 'eth0' }),
      'link add name nsm-1 netns /proc/42/ns/net type vxlan id 5 local 10.0.0.1 remote 10.0.0.2 dstport 4789 dev eth0'],
    [addVxlan({ name: 'vx0', vni: 0, local: 'fd00::1', remote: 'fd00::2', dstPort: 4789 }), 'link add name vx0 type vxlan id 0 local fd00::1 remote fd00::2 dstport 4789'],
    [addGre({ kind: 'gretap', name: 'nsm-1', netns: '/proc/42/ns/net', local: '10.0.0.1', remote: '10.0.0.2', key: 9, underlay: 'eth0' }),
      'link add name nsm-1 netns /proc/42/ns/net type gretap local 10.0.0.1 remote 10.0.0.2 key 9 dev eth0'],
    [addGre({ kind: 'gre', name: 'g', local: '10.0.0.1', remote: '10.0.0.2', key: 0 }), 'link add name g type gre local 10.0.0.1 remote 10.0.0.2 key 0'],
    [deleteGroup(7781), 'link del group 7781'],
    [deleteLink('nsm-1'), 'link del dev nsm-1'],
  ];
  for (const [op, line] of cases) t.equal(ipBatchLine(op), line, op.op);
});

t.test('every value follows the keyword that names it, so a name that spells a keyword stays a name', async (t) => {
  t.equal(ipBatchLine(addVeth({ name: 'type', peer: 'netns', peerNetns: '/run/netns/up' })), 'link add name type type veth peer name netns netns /run/netns/up');
  t.same(ipWords(setLink({ name: 'up', alias: 'down' })), ['link', 'set', 'dev', { field: 'name', value: 'up' }, 'alias', { field: 'alias', value: 'down' }]);
});

t.test('a value a batch line would interpret is refused, naming the op and the field, even in an op no constructor checked', async (t) => {
  for (const [op, field] of [
    [{ op: 'set-link', name: 'k1 netns x #', up: true }, 'name'],
    [{ op: 'set-link', name: 'nsm-1', alias: 'a"b' }, 'alias'],
    [{ op: 'set-link', name: 'nsm-1', alias: "a'b" }, 'alias'],
    [{ op: 'set-link', name: 'nsm-1', alias: 'a\tb' }, 'alias'],
    [{ op: 'set-link', name: 'nsm-1', alias: 'x\\' }, 'alias'],
    [{ op: 'set-link', name: 'nsm-1', alias: 'a\nlink del dev eth0' }, 'alias'],
    [{ op: 'set-link', name: 'nsm-1', alias: '' }, 'alias'],
    [{ op: 'add-veth', name: 'a', peer: 'b', peerNetns: '/run/netns/x #' }, 'peerNetns'],
    [{ op: 'add-address', name: 'a', address: '10.0.0.1/32 dev eth0' }, 'address'],
    [{ op: 'add-gre', kind: 'gretap remote 1.2.3.4', name: 'g', local: '1.1.1.1', remote: '2.2.2.2', key: 1 }, 'kind'],
  ] as const) {
    const err = (() => {
      try {
        ipBatchLine(op as unknown as KernelOp);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.ok(err instanceof KernelError, JSON.stringify(op));
    t.match(err, { code: 'INVALID_ARGUMENT', field, message: new RegExp(`^invalid ${op.op}: ${field} .*cannot be written in an ip batch line`) });
  }
});

t.test('property: a line either is refused, or holds each value as exactly one word', async () => {
  const value = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '\t', '"', "'", '#', '\\', '\n', '\r', '\u0000', '%', ':', '-', 'é') , maxLength: 12 });
  fc.assert(fc.property(value, value, (name, alias) => {
    const op = { op: 'set-link', name, alias } as KernelOp;
    let line: string;
    try {
      line = ipBatchLine(op);
    } catch (err) {
      if (err instanceof KernelError && err.code === 'INVALID_ARGUMENT') return;
      throw err;
    }
    const words = line.split(/[ \t\r\n]+/);
    if (JSON.stringify(words) !== JSON.stringify(['link', 'set', 'dev', name, 'alias', alias])) throw new Error(`${JSON.stringify(line)} splits as ${JSON.stringify(words)}`);
    if (/["'#\\\u0000-\u001f]/.test(line)) throw new Error(`${JSON.stringify(line)} has a character the batch reader interprets`);
  }), { numRuns: 2000 });
});
