import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { Connection, kernelMechanism, Mechanism, NetworkServiceEndpoint, NetworkServiceRequest, RegistryNetworkService } from '../../proto/api.ts';
import { fromNamespace } from '../fixtures/foreign.ts';
import type { ForeignCall } from '../fixtures/foreign-caller.ts';
import { addNetns, inodeUrlOf, ip, links, ping, runNsm, spawnNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();

t.test('hostile input at the forwarder\'s edge', { skip, timeout: 240_000 }, async (t) => {
  const p = uniquePrefix('hi');
  const dir = tempDir(t, p);
  const [node, ep, fuzzer, canary, good] = ['node', 'ep', 'fz', 'canary', 'good'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [ep, fuzzer, canary, good]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const forwarder = `unix://${join(dir, 'nsm.sock')}`;
  const registry = join(dir, 'registry');
  const fwd = spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: forwarder, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: registry, NSM_MEMIF_DIR: join(dir, 'memif') });
  await waitFor('the forwarder socket', () => { try { return statSync(join(dir, 'nsm.sock')).isSocket(); } catch { return false; } });
  spawnNsm(t, ep, ['nse'], { NSM_NAME: 'hi-ep', NSM_SERVICE_NAMES: 'hi', NSM_CIDR_PREFIX: '10.236.0.0/20', NSM_CONNECT_TO: forwarder, NSM_LISTEN_ON: `unix://${join(dir, 'ep.sock')}` });
  await waitFor('the endpoint registration', () => { try { return statSync(join(registry, 'networkserviceendpoints/hi-ep.json')).isFile(); } catch { return false; } });

  const own = inodeUrlOf(fuzzer);
  const req = (id: string, ifname: string, path = [{ name: 'fz', id }], index = 0) => NetworkServiceRequest.toJSON({
    connection: Connection.fromPartial({ id, networkService: 'hi', path: { index, pathSegments: path } }),
    mechanismPreferences: [kernelMechanism({ name: ifname, inodeURL: own })],
  });
  const nsmLinks = (ns: string) => links(ns).filter((l) => l.ifname !== 'lo');
  const registryNames = () => ['networkservices', 'networkserviceendpoints'].flatMap((k) => readdirSync(join(registry, k)).map((f) => `${k}/${f}`)).sort();
  const registryBefore = registryNames();
  const clean = (t: Test, what: string) => {
    for (const ns of [fuzzer, canary, ep]) t.same(nsmLinks(ns).map((l) => l.ifname), [], `${what}: nothing left in ${ns}`);
    t.same(registryNames(), registryBefore, `${what}: the registry holds what it held before`);
  };

  await t.test('each finding of the fuzz run, answered INVALID_ARGUMENT with nothing created', async (t) => {
    const calls: ForeignCall[] = [
      { kind: 'request', request: req('fz-1', `k1 netns ${canary} #`) },
      { kind: 'request', request: req('fz-2', 'a%d') },
      { kind: 'request', request: req('fz-3', 'q"uote') },
      { kind: 'request', request: req('fz-4\tx', 'nsm-4') },
      { kind: 'request', request: req('fz-5', 'nsm-5', [{ name: 'fz', id: 'fz-5' }], 3) },
      { kind: 'request', request: {} },
      { kind: 'raw', path: '/networkservice.NetworkService/Request', bytes: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]).toString('base64') },
      { kind: 'close', connection: {} },
      { kind: 'request', request: req('fz-6', 'nsm-6') },
    ];
    const answers = await fromNamespace(t, fuzzer, { forwarder, calls, cleanUp: true });
    t.same(answers.map((a) => a.code), [...Array(8).fill('INVALID_ARGUMENT'), 'OK'], answers.map((a) => a.message).join('\n'));
    t.match(answers[0].message, /mechanism_preferences\[0\]\.parameters\["name"\]: interface name "k1 netns .*" contains " "/);
    t.match(answers[1].message, /contains "%"/);
    t.match(answers[3].message, /connection\.id "fz-4\\tx" is not a valid name/);
    t.match(answers[4].message, /connection\.path\.index 3 points past the 1 path segment/);
    t.match(answers[5].message, /connection is missing/);
    t.match(answers[6].message, /is not a valid networkservice\.NetworkService\/Request request message/);
    t.match(answers[7].message, /connection\.id is empty/);
    clean(t, 'after the findings and one good connection, closed');
  });

  await t.test('fuzz: 600 malformed or hostile calls, all answered, none INTERNAL, nothing left, good clients served', async (t) => {
    const hostile = fc.oneof(
      fc.constantFrom('', ' ', '#', '%d', '"', "'", '\\', '\t', '\n', '.', '..', '/', ':', 'x'.repeat(16), 'netns 1', `netns ${canary}`),
      fc.string({ maxLength: 20 }),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/),
    );
    const num = fc.oneof(fc.constantFrom('', '-1', '0', '65536', '4294967296', 'x', '1e3'), fc.nat(70000).map(String));
    const mechanism = fc.record({
      cls: fc.constantFrom('LOCAL', 'REMOTE', '', 'local'),
      type: fc.constantFrom('KERNEL', 'MEMIF', 'VXLAN', 'GRE', 'WIREGUARD', '', 'kernel'),
      parameters: fc.record({
        name: hostile, inodeURL: fc.constantFrom(own, '', 'inode://4/1', 'file:///proc/1/ns/net', 'inode://x/y'),
        socketfile: fc.constantFrom('', '/tmp/x.sock', 'relative', `/${'a'.repeat(120)}`),
        src_ip: fc.constantFrom('10.0.0.1', '::1', 'x', ''), vni: num, MTU: num, id: num,
      }, { requiredKeys: [] }),
    }).map((m) => Mechanism.toJSON(Mechanism.fromPartial(m)));
    const segment = fc.record({ name: fc.oneof(hostile, fc.constant(`${p}-fwd`)), id: hostile, token: fc.string({ maxLength: 8 }) });
    const connection = fc.record({
      id: hostile, networkService: fc.oneof(fc.constantFrom('hi', 'none'), hostile), payload: fc.constantFrom('', 'ETHERNET', 'IP', 'MPLS'),
      labels: fc.dictionary(hostile, hostile, { maxKeys: 3 }),
      path: fc.record({ index: fc.nat(5), pathSegments: fc.array(segment, { maxLength: 4 }) }),
      context: fc.record({ MTU: fc.nat(70000), ipContext: fc.record({ srcIpAddrs: fc.array(fc.constantFrom('10.0.0.1/32', 'x', '10.0.0.1/33', '::1/128'), { maxLength: 2 }) }) }, { requiredKeys: [] }),
    }, { requiredKeys: ['id', 'networkService'] }).map((c) => Connection.toJSON(Connection.fromPartial(c)));
    const call: fc.Arbitrary<ForeignCall> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ connection, mechanismPreferences: fc.array(mechanism, { maxLength: 3 }) }).map((request): ForeignCall => ({ kind: 'request', request })) },
      { weight: 2, arbitrary: connection.map((c): ForeignCall => ({ kind: 'close', connection: c })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b): ForeignCall => ({ kind: 'raw', path: '/networkservice.NetworkService/Request', bytes: Buffer.from(b).toString('base64') })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b): ForeignCall => ({ kind: 'raw', path: '/registry.NetworkServiceEndpointRegistry/Register', bytes: Buffer.from(b).toString('base64') })) },
      {
        weight: 2,
        arbitrary: fc.record({ name: hostile, url: fc.constantFrom('', 'unix:///nowhere.sock', 'unix://relative', 'tcp://10.0.0.1:5000', 'tcp://x:99999', 'ftp://a') }).map((r): ForeignCall => ({
          kind: 'registerEndpoint', nse: NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name: r.name, networkServiceNames: ['hi'], url: r.url })),
        })),
      },
      { weight: 1, arbitrary: fc.record({ name: hostile, payload: fc.constantFrom('', 'IP', 'ETHERNET', 'X') }).map((r): ForeignCall => ({ kind: 'registerService', ns: RegistryNetworkService.toJSON({ ...r, matches: [], pathIds: [] }) })) },
    );
    const calls = fc.sample(call, { numRuns: 600, seed: 23 });
    const answers = await fromNamespace(t, fuzzer, { forwarder, calls, cleanUp: true });
    t.equal(answers.length, calls.length, 'every call answered');
    const codes = answers.reduce<Record<string, number>>((n, a) => ({ ...n, [a.code]: (n[a.code] ?? 0) + 1 }), {});
    t.comment(`answers: ${JSON.stringify(codes)}`);
    t.same(answers.filter((a) => a.code === 'INTERNAL' || a.code === 'UNKNOWN').map((a) => a.message), [], 'no INTERNAL or UNKNOWN answer');
    clean(t, 'after the fuzz run and its clean-up');
    t.equal(fwd.child.exitCode, null, 'the forwarder kept running');
    const r = await runNsm(t, good, ['nsc', 'init'], { NSM_NAME: 'good', NSM_NETWORK_SERVICES: 'kernel://hi/nsm-1', NSM_CONNECT_TO: forwarder, NSM_CONNECTIONS_DIR: join(dir, 'good'), NSM_INIT_TIMEOUT: '10s' });
    t.equal(r.code, 0, `a good client still connects: ${r.output}`);
    const peer = Connection.fromJSON(JSON.parse(readFileSync(join(dir, 'good', 'nsm-1.json'), 'utf8'))).context!.ipContext!.dstIpAddrs[0].split('/')[0];
    t.ok(ping(good, peer), 'and pings its endpoint');
  });
});
