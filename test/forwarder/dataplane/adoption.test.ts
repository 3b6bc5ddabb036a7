import t from 'tap';
import { AdoptionTable } from '../../../forwarder/dataplane/adoption.ts';
import type { NetnsResolver } from '../../../forwarder/dataplane/netns-resolver.ts';
import type { LinkInfo, Netns } from '../../../forwarder/dataplane/runner.ts';
import { aliasOf, configureEndCommands } from '../../../forwarder/dataplane/veth.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { RecordingRunner } from '../../fixtures/kernel.ts';

/** One pod namespace holding links of two forwarders that share the host. */
class SharedHostRunner extends RecordingRunner {
  override async links(_netns: Netns, filter: string[] = []): Promise<LinkInfo[]> {
    if (filter.includes('7781')) return [];
    return [
      { ifindex: 2, ifname: 'nsm-1', ifalias: aliasOf('conn-a', 'node1') },
      { ifindex: 3, ifname: 'nsm-2', ifalias: aliasOf('conn-b', 'node2') },
      { ifindex: 4, ifname: 'eth0' },
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
  t.same(runner.commandsIn('pod').filter((c) => c.startsWith('link set')), ['link set dev nsm-1 group 7781'], 'only nsm-1 is deleted');
});

t.test('the owner is written into the alias of every end', async (t) => {
  t.equal(configureEndCommands('nsm-1', 'conn-a', 1450, undefined, 'client', 'node1')[0], 'link set dev nsm-1 alias nsm:node1:conn-a group 7780 mtu 1450 up');
  t.equal(aliasOf('conn-a'), 'nsm:conn-a');
});
