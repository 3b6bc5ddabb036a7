import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Connection, kernelMechanism } from '../../proto/api.ts';
import { isNsmError } from '../../sdk/errors.ts';
import { NetworkServiceClient } from '../../sdk/grpc/networkservice-client.ts';
import {
  addNetns, addresses, link, links, ping, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests,
} from '../fixtures/netns.ts';

const skip = whyNoKernelTests();

t.test('kernel2kernel on one node: two clients, one endpoint', { skip, timeout: 90_000 }, async (t) => {
  const p = uniquePrefix('k2k');
  const dir = tempDir(t, p);
  const [node, ep, c1, c2, c3] = ['node', 'ep', 'c1', 'c2', 'c3'].map((n) => addNetns(t, `${p}-${n}`));
  const sock = `unix://${join(dir, 'nsm.sock')}`;
  const startForwarder = async () => {
    rmSync(join(dir, 'nsm.sock'), { force: true });
    const f = spawnNsm(t, node, ['forwarder'], {
      NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: sock, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry'), NSM_MAX_TOKEN_LIFETIME: '3s',
    });
    await waitFor('the forwarder socket', () => { try { return statSync(join(dir, 'nsm.sock')).isSocket(); } catch { return false; } });
    return f;
  };
  let forwarder = await startForwarder();
  const endpoint = spawnNsm(t, ep, ['nse'], {
    NSM_NAME: 'icmp', NSM_SERVICE_NAMES: 'k2k', NSM_CIDR_PREFIX: '10.231.0.0/29', NSM_CONNECT_TO: sock,
    NSM_LISTEN_ON: `unix://${join(dir, 'icmp.sock')}`, NSM_MAX_TOKEN_LIFETIME: '3s',
  });
  await waitFor('the endpoint registration', () => { try { return statSync(join(dir, 'registry/networkserviceendpoints/icmp.json')).isFile(); } catch { return false; } });

  const clientEnv = (name: string, services = 'kernel://k2k/nsm-1') => ({
    NSM_NAME: name, NSM_NETWORK_SERVICES: services, NSM_CONNECT_TO: sock, NSM_CONNECTIONS_DIR: join(dir, name), NSM_INIT_TIMEOUT: '10s',
  });
  const init = (ns: string, name: string) => runNsm(t, ns, ['nsc', 'init'], clientEnv(name));

  const [r1, r2] = await Promise.all([init(c1, 'c1'), init(c2, 'c2')]);
  t.equal(r1.code, 0, `c1 init: ${r1.output}`);
  t.equal(r2.code, 0, `c2 init: ${r2.output}`);
  const a1 = addresses(c1, 'nsm-1');
  const a2 = addresses(c2, 'nsm-1');
  t.equal(a1.length, 1, 'c1 has one address');
  t.not(a1[0], a2[0], 'clients get different addresses');
  const epLinks = () => links(ep).filter((l) => l.ifalias?.startsWith('nsm:'));
  t.equal(epLinks().length, 2, 'the endpoint has one interface per client');
  const peerOf = (ns: string) => JSON.parse(readFileSync(join(dir, ns, "nsm-1.json"), "utf8")).context.ipContext.dstIpAddrs[0].split('/')[0] as string;
  t.ok(ping(c1, peerOf('c1')), 'c1 pings its endpoint address');
  t.ok(ping(c2, peerOf('c2')), 'c2 pings its endpoint address');

  await t.test('refresh and a forwarder restart keep the same interface; SIGTERM closes it', async (t) => {
    const before = link(c1, 'nsm-1')!.ifindex;
    const alias = link(c1, 'nsm-1')!.ifalias;
    const run = spawnNsm(t, c1, ['nsc', 'run'], clientEnv('c1'));
    await new Promise((r) => setTimeout(r, 2500)); // longer than one refresh period (a third of 3 s)
    t.equal(link(c1, 'nsm-1')?.ifindex, before, 'same ifindex after refreshes');
    t.ok(ping(c1, peerOf('c1')), 'still pings');
    t.equal(await stopNsm(forwarder), 0, 'forwarder stops, leaving connections in the kernel');
    t.equal(link(c1, 'nsm-1')?.ifindex, before, 'interface kept while no forwarder runs');
    forwarder = await startForwarder();
    await new Promise((r) => setTimeout(r, 2000));
    t.equal(link(c1, 'nsm-1')?.ifindex, before, 'a restarted forwarder adopts the connection on the next refresh');
    t.ok(ping(c1, peerOf('c1')), 'still pings after the restart');
    t.equal(await stopNsm(run), 0, `nsc run exits 0 on SIGTERM: ${run.output()}`);
    t.equal(link(c1, 'nsm-1'), undefined, 'interface removed from the client');
    t.notOk(epLinks().some((l) => l.ifalias === alias), 'and from the endpoint');
  });

  await t.test('a client that stops refreshing is closed by the forwarder', async (t) => {
    await waitFor('c2 expiry', () => link(c2, 'nsm-1') === undefined, 8000);
    t.equal(epLinks().length, 0, 'no interfaces left at the endpoint');
  });

  await t.test('addresses are reused after Close', async (t) => {
    const again = await init(c1, 'c1');
    t.equal(again.code, 0, again.output);
    const lowest = ['10.231.0.2/32', '10.231.0.1/32'];
    t.ok(lowest.includes(addresses(c1, 'nsm-1')[0]), `the lowest pair is handed out again (${addresses(c1, 'nsm-1')})`);
    const third = await init(c3, 'c3');
    t.equal(third.code, 0, third.output);
  });

  await t.test('a /31 pool gives one connection a /31 pair, then says it is exhausted', async (t) => {
    const tinyNs = addNetns(t, `${p}-tiny`);
    const tiny = spawnNsm(t, tinyNs, ['nse'], {
      NSM_NAME: 'tiny', NSM_SERVICE_NAMES: 'k2k-tiny', NSM_CIDR_PREFIX: '10.232.0.0/31', NSM_CONNECT_TO: sock,
      NSM_LISTEN_ON: `unix://${join(dir, 'tiny.sock')}`,
    });
    await waitFor('the tiny endpoint', () => { try { return statSync(join(dir, 'registry/networkserviceendpoints/tiny.json')).isFile(); } catch { return false; } });
    const [c4, c5] = [addNetns(t, `${p}-c4`), addNetns(t, `${p}-c5`)];
    const four = await runNsm(t, c4, ['nsc', 'init'], clientEnv('c4', 'kernel://k2k-tiny/nsm-1'));
    t.equal(four.code, 0, four.output);
    t.same(addresses(c4, 'nsm-1'), ['10.232.0.1/31'], 'the client gets its half of the /31');
    const five = await runNsm(t, c5, ['nsc', 'init'], { ...clientEnv('c5', 'kernel://k2k-tiny/nsm-1'), NSM_INIT_TIMEOUT: '1500ms' });
    t.equal(five.code, 1);
    t.match(five.output, /kernel:\/\/k2k-tiny\/nsm-1: .*address pool 10\.232\.0\.0\/31 is exhausted/);
    t.equal(await stopNsm(tiny), 0);
  });

  await t.test('init against a service with no endpoint fails in time, naming the reason', async (t) => {
    const r = await runNsm(t, c3, ['nsc', 'init'], { ...clientEnv('c3x', 'kernel://nobody/nsm-9'), NSM_INIT_TIMEOUT: '2s' });
    t.equal(r.code, 1);
    t.match(r.output, /kernel:\/\/nobody\/nsm-9: network service "nobody" is not registered/);
    t.ok(r.ms < 6000, `exits soon after the deadline (${r.ms} ms)`);
  });

  await t.test('a namespace that is not the caller\'s own is PERMISSION_DENIED', async (t) => {
    const client = await NetworkServiceClient.dial(sock);
    t.teardown(() => client.shutdown());
    const err = await client.request({
      connection: Connection.fromPartial({ id: 'ghost-0', networkService: 'k2k', path: { index: 0, pathSegments: [{ name: 'ghost', id: 'ghost-0' }] } }),
      mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: 'inode://4/1' })],
    }).catch((e: unknown) => e);
    t.ok(isNsmError(err, 'PERMISSION_DENIED'), `refused with PERMISSION_DENIED: ${String(err)}`);
    t.match(String((err as Error).message), /names network namespace inode:\/\/4\/1, but the caller runs in inode:\/\/\d+\/\d+/);
  });

  t.equal(await stopNsm(endpoint), 0, 'endpoint exits 0 on SIGTERM');
  t.equal(await stopNsm(forwarder), 0, 'forwarder exits 0 on SIGTERM');
});
