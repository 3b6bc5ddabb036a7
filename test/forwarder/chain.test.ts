import t from 'tap';
import { chain } from '../../sdk/chain/chain.ts';
import { monitor } from '../../sdk/elements/monitor.ts';
import { ChannelPool } from '../../sdk/grpc/channel-pool.ts';
import { silentLogger } from '../../sdk/log.ts';
import { Owners } from '../../forwarder/authz/ownership.ts';
import { Registrations } from '../../forwarder/authz/registrations.ts';
import { forwarderElements, type ChainParts } from '../../forwarder/chain.ts';
import { AdoptionTable } from '../../forwarder/dataplane/adoption.ts';
import { MemifRendezvous } from '../../forwarder/dataplane/memif-rendezvous.ts';
import { NetnsResolver } from '../../forwarder/dataplane/netns-resolver.ts';
import { openDirRegistry } from '../../sdk/registry/dir-backend.ts';
import { RecordingRunner } from '../fixtures/kernel.ts';
import { tempDir } from '../fixtures/netns.ts';

t.test('the forwarder chain is assembled in order, and a wrong order is refused when it is built', async (t) => {
  const dir = tempDir(t, 'chain');
  const registry = await openDirRegistry(dir);
  t.teardown(() => registry.close());
  const runner = new RecordingRunner();
  const resolver = new NetnsResolver();
  const adoption = new AdoptionTable(runner, resolver, silentLogger(), 'fwd');
  const parts: ChainParts = {
    name: 'fwd', registry, runner, resolver, adoption, rendezvous: new MemifRendezvous(dir), endpoints: new Registrations('fwd'),
    owners: new Owners(adoption), monitor: monitor(), local: new ChannelPool(100), connectionLifetimeMs: 60_000, requestTimeoutMs: 1000,
  };
  const elements = forwarderElements(parts);
  t.doesNotThrow(() => chain(elements), 'the canonical order meets every element\'s needs');
  t.same(elements.map((e) => e.name), [
    'updatepath', 'own-namespace', 'connection-owner', 'begin', 'metadata', 'release-owner', 'timeout', 'monitor', 'client-offers', 'negotiate',
    'client-netns', 'discover', 'roundrobin', 'memif-shortcut', 'kernel-veth', 'endpoint-answer', 'call-endpoint',
  ]);
  const at = (name: string) => elements.findIndex((e) => e.name === name);
  const swapped = [...elements];
  [swapped[at('roundrobin')], swapped[at('memif-shortcut')]] = [swapped[at('memif-shortcut')], swapped[at('roundrobin')]];
  t.throws(() => chain(swapped), { message: /^chain element "memif-shortcut" needs "endpoint" \(provided by roundrobin, which must come before it\); order: updatepath -> /, name: 'Error' });
  t.throws(() => chain(elements.filter((e) => e.name !== 'metadata')), { message: /^chain element "timeout" needs "metadata" \(provided by no element of this chain\)/ });
});
