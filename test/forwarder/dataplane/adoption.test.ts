import t from 'tap';
import { AdoptionTable } from '../../../forwarder/dataplane/adoption.ts';
import type { NetnsResolver } from '../../../forwarder/dataplane/netns-resolver.ts';
import type { LinkInfo, Netns } from '../../../forwarder/dataplane/runner.ts';
import { ipBatchLine } from '../../../forwarder/dataplane/ip/format.ts';
import { deleteGroup, setLink } from '../../../forwarder/dataplane/ops.ts';
import { aliasOf, configureEnd } from '../../../forwarder/dataplane/veth.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { RecordingRunner } from '../../fixtures/kernel.ts';

/** One pod namespace holding links of two forwarders that share the host. */
class SharedHostRunner extends RecordingRunner {
  override async links(): Promise<LinkInfo[]> {
    return [
      { ifindex: 2, ifname: 'nsm-1', ifalias: aliasOf('conn-a', 'node1'), group: '7780' },
      { ifindex: 3, ifname: 'nsm-2', ifalias: aliasOf('conn-b', 'node2'), group: '7780' },
      { ifindex: 4, ifname: 'eth0', group: 'default' },
      { ifindex: 5, ifname: 'nsm-3', ifalias: aliasOf('conn-c', 'node1'), group: 'default' },
    ];
  }
}

const pod: Netns = { path: '/proc/42/ns/net', key: 'pod' };
const resolver = { all: async () => [pod] } as unknown as NetnsResolver;

t.test('a forwarder adopts only links it made, and expires only those', async (t) => {
  const runner = new SharedHostRunner();
  const node1 = new AdoptionTable(runner, resolver, silentLogger(), 'node1');
  t.equal(await node1.scan(), 1);
  t.equal(node1.claim('conn-b'), undefined, 'node2\'s connection is not node1\'s to claim');
  t.equal(await node1.expire(), 1);
  t.same(runner.opsIn('pod').filter((op) => op.op === 'set-link'), [setLink({ name: 'nsm-1', group: 7781 })], 'only nsm-1 is deleted');
});

t.test('the owner is written into the alias of every end', async (t) => {
  const [named] = configureEnd('nsm-1', 'conn-a', 1450, undefined, 'client', 'node1');
  t.same(named, setLink({ name: 'nsm-1', alias: 'nsm:node1:conn-a', group: 7780, mtu: 1450, up: true }));
  t.equal(ipBatchLine(named), 'link set dev nsm-1 alias nsm:node1:conn-a group 7780 mtu 1450 up');
  t.equal(aliasOf('conn-a'), 'nsm:conn-a');
});

t.test('the scan reads each namespace once, several at a time, and deletes links left in the doomed group', async (t) => {
  const namespaces: Netns[] = Array.from({ length: 20 }, (_, i) => ({ path: `/proc/${100 + i}/ns/net`, key: `pod${i}` }));
  let reading = 0;
  let mostAtOnce = 0;
  const reads: string[] = [];
  class SlowRunner extends RecordingRunner {
    override async links(netns: Netns): Promise<LinkInfo[]> {
      reads.push(netns.key);
      mostAtOnce = Math.max(mostAtOnce, ++reading);
      await new Promise((r) => setTimeout(r, 5));
      reading--;
      return netns.key === 'pod3' ? [{ ifindex: 9, ifname: 'nsm-x', group: '7781' }] : [{ ifindex: 2, ifname: 'nsm-1', ifalias: aliasOf(`conn-${netns.key}`, 'n'), group: 7780 }];
    }
  }
  const runner = new SlowRunner();
  const table = new AdoptionTable(runner, { all: async () => namespaces } as unknown as NetnsResolver, silentLogger(), 'n');
  t.equal(await table.scan(), 19, 'one connection in every namespace but the one with only a doomed link');
  t.same([...reads].sort(), namespaces.map((n) => n.key).sort(), 'each namespace read once');
  t.ok(mostAtOnce > 1 && mostAtOnce <= 8, `at most 8 namespaces at a time (${mostAtOnce})`);
  t.same(runner.opsIn('pod3'), [deleteGroup(7781)], 'the doomed group is deleted');
});
