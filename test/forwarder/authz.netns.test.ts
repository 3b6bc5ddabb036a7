import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { Connection, kernelMechanism, memifMechanism, NetworkServiceEndpoint, NetworkServiceRequest, RegistryNetworkService } from '../../proto/api.ts';
import { MEMIF_ENDPOINT_LABEL } from '../../proto/memif.ts';
import type { ForeignCall, ForeignPlan } from '../fixtures/foreign-caller.ts';
import { fromNamespace } from '../fixtures/foreign.ts';
import { addNetns, inodeUrlOf, ip, link, ping, runNsm, spawnNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests } from '../fixtures/netns.ts';

const skip = whyNoKernelTests();

t.test('a pod can act only on itself', { skip, timeout: 180_000 }, async (t) => {
  const p = uniquePrefix('az');
  const dir = tempDir(t, p);
  const [node, ep, victim, evil, other] = ['node', 'ep', 'victim', 'evil', 'other'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [ep, victim, evil, other]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const sock = join(dir, 'nsm.sock');
  const forwarder = `unix://${sock}`;
  const registry = join(dir, 'registry');
  const memifDir = join(dir, 'memif');
  const fwd = spawnNsm(t, node, ['forwarder'], { NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: forwarder, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: registry, NSM_MEMIF_DIR: memifDir });
  await waitFor('the forwarder socket', () => { try { return statSync(sock).isSocket(); } catch { return false; } });
  const epSocket = join(dir, 'icmp.sock');
  spawnNsm(t, ep, ['nse'], { NSM_NAME: 'icmp', NSM_SERVICE_NAMES: 'k2k', NSM_CIDR_PREFIX: '10.235.0.0/28', NSM_CONNECT_TO: forwarder, NSM_LISTEN_ON: `unix://${epSocket}` });
  await waitFor('the endpoint registration', () => { try { return statSync(join(registry, 'networkserviceendpoints/icmp.json')).isFile(); } catch { return false; } });
  const clientEnv = (name: string) => ({ NSM_NAME: name, NSM_NETWORK_SERVICES: 'kernel://k2k/nsm-1', NSM_CONNECT_TO: forwarder, NSM_CONNECTIONS_DIR: join(dir, name), NSM_INIT_TIMEOUT: '10s' });
  const init = await runNsm(t, victim, ['nsc', 'init'], clientEnv('victim'));
  t.equal(init.code, 0, `the victim connects: ${init.output}`);
  const victimConn = JSON.parse(readFileSync(join(dir, 'victim', 'nsm-1.json'), 'utf8')) as unknown;
  const peer = Connection.fromJSON(victimConn).context!.ipContext!.dstIpAddrs[0].split('/')[0];
  t.ok(ping(victim, peer), 'the victim pings its endpoint');
  const victimIf = link(victim, 'nsm-1')!.ifindex;

  const namespaces = [node, ep, victim, evil, other];
  /** Every link and address of the test's namespaces, and every registry object (without its refreshed expiry). */
  const state = () => JSON.stringify({
    links: namespaces.map((ns) => JSON.parse(ip(['-n', ns, '-j', 'addr', 'show'])).map((l: { ifname: string; ifindex: number; addr_info: Array<{ local: string }> }) => [l.ifname, l.ifindex, l.addr_info.map((a) => a.local)])),
    registry: ['networkservices', 'networkserviceendpoints'].map((kind) => readdirSync(join(registry, kind)).sort().map((f) => {
      const { expirationTime: _e, ...rest } = JSON.parse(readFileSync(join(registry, kind, f), 'utf8')) as Record<string, unknown>;
      return [f, rest];
    })),
  });
  const before = state();
  const unchanged = (t: Test, what: string) => {
    t.equal(state(), before, `${what}: no link, address or registry object changed anywhere`);
    t.equal(link(victim, 'nsm-1')?.ifindex, victimIf, 'the victim keeps its interface');
    t.ok(ping(victim, peer), 'and its ping keeps working');
  };
  const request = (id: string, inodeURL: string, ifname = 'evil0', path = [{ name: 'evil', id }]) => NetworkServiceRequest.toJSON({
    connection: Connection.fromPartial({ id, networkService: 'k2k', path: { index: 0, pathSegments: path } }),
    mechanismPreferences: [kernelMechanism({ name: ifname, inodeURL })],
  });

  await t.test('a Request naming the victim\'s namespace is refused and creates nothing', async (t) => {
    const [answer] = await fromNamespace(t, evil, { forwarder, calls: [{ kind: 'request', request: request('evil-0', inodeUrlOf(victim)) }] });
    t.equal(answer.code, 'PERMISSION_DENIED', answer.message);
    t.match(answer.message, /a pod may ask for interfaces only in its own network namespace/);
    t.equal(link(victim, 'evil0'), undefined, 'no evil0 in the victim');
    unchanged(t, 'after the Request');
  });

  await t.test('Close and refresh of the victim\'s connection are refused and change nothing', async (t) => {
    const conn = Connection.fromJSON(victimConn);
    const answers = await fromNamespace(t, evil, {
      forwarder,
      calls: [
        { kind: 'close', connection: victimConn },
        { kind: 'request', request: NetworkServiceRequest.toJSON({ connection: conn, mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: inodeUrlOf(victim) })] }) },
        { kind: 'request', request: NetworkServiceRequest.toJSON({ connection: { ...conn, mechanism: undefined }, mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: inodeUrlOf(evil) })] }) },
        { kind: 'close', connection: Connection.toJSON(Connection.fromPartial({ id: 'victim-0', networkService: 'k2k' })) },
      ],
    });
    t.equal(answers[0].code, 'PERMISSION_DENIED', `Close with the victim's whole connection: ${answers[0].message}`);
    t.match(answers[0].message, /belongs to network namespace inode:\/\/\d+\/\d+; only its owner may close it/);
    t.equal(answers[1].code, 'PERMISSION_DENIED', `refresh naming the victim's namespace: ${answers[1].message}`);
    t.equal(answers[2].code, 'PERMISSION_DENIED', `refresh of the victim's connection from the caller's own namespace: ${answers[2].message}`);
    t.match(answers[2].message, /only its owner may refresh it/);
    t.equal(answers[3].code, 'OK', 'a Close by a guessed client id reaches no connection of this forwarder');
    unchanged(t, 'after the Closes and refreshes');
  });

  await t.test('MonitorConnections shows a pod only its own connections', async (t) => {
    const [mine] = await fromNamespace(t, victim, { forwarder, calls: [{ kind: 'monitor' }] });
    t.equal(mine.code, 'OK', mine.message);
    t.equal((JSON.parse(mine.message) as string[]).length, 1, 'the victim sees its connection');
    const selectors = [{}, { pathSegments: [{ name: 'victim' }] }, { pathSegments: [{ id: 'victim-0' }] }, { networkServices: ['k2k'] }];
    const theirs = await fromNamespace(t, evil, { forwarder, calls: selectors.map((selector) => ({ kind: 'monitor', selector })) });
    for (const [i, a] of theirs.entries()) {
      t.equal(a.code, 'OK', a.message);
      t.same(JSON.parse(a.message), [], `another pod sees none of it (selector ${JSON.stringify(selectors[i])})`);
    }
    unchanged(t, 'after the streams');
  });

  await t.test('a registration hijack is refused; the owner\'s endpoint keeps serving', async (t) => {
    const evilSocket = join(dir, 'evil.sock');
    const nse = (name: string, url: string) => NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name, networkServiceNames: ['k2k'], url }));
    const answers = await fromNamespace(t, evil, {
      forwarder,
      serve: { socket: evilSocket, answer: kernelMechanism({ inodeURL: inodeUrlOf(evil) }) },
      calls: [
        { kind: 'registerEndpoint', nse: nse('icmp', `unix://${evilSocket}`) },
        { kind: 'registerEndpoint', nse: nse('icmp', `unix://${epSocket}`) },
        { kind: 'unregisterEndpoint', nse: nse('icmp', '') },
        { kind: 'registerEndpoint', nse: nse('evil-ep', `unix://${epSocket}`) },
        { kind: 'registerEndpoint', nse: nse(`${p}-fwd`, `unix://${evilSocket}`) },
        { kind: 'registerService', ns: RegistryNetworkService.toJSON({ name: 'k2k', payload: 'IP', matches: [], pathIds: [] }) },
      ],
    });
    t.same(answers.map((a) => a.code), ['PERMISSION_DENIED', 'PERMISSION_DENIED', 'PERMISSION_DENIED', 'PERMISSION_DENIED', 'PERMISSION_DENIED', 'PERMISSION_DENIED'], answers.map((a) => a.message).join('\n'));
    t.match(answers[0].message, /endpoint icmp is registered by network namespace/);
    t.match(answers[3].message, /is served from network namespace .*, not the caller's/);
    t.match(answers[4].message, /is the name of this forwarder/);
    t.match(answers[5].message, /network service k2k exists and was not created by this caller/);
    unchanged(t, 'after the hijack attempts');
    const second = await runNsm(t, other, ['nsc', 'init'], clientEnv('other'));
    t.equal(second.code, 0, `a new client still reaches the owner's endpoint: ${second.output}`);
  });

  await t.test('an endpoint that answers with someone else\'s namespace or socket is refused', async (t) => {
    const evilSocket = join(dir, 'evil2.sock');
    const hidden = join(dir, 'hidden');
    mkdirSync(hidden);
    const victimApp = createServer().listen(join(hidden, 'app.sock'));
    t.teardown(() => victimApp.close());
    await once(victimApp, 'listening');
    const plan = (answer: unknown, mechanism: unknown): ForeignPlan => ({
      forwarder,
      serve: { socket: evilSocket, answer },
      calls: [
        { kind: 'registerService', ns: RegistryNetworkService.toJSON({ name: 'evil-svc', payload: 'ETHERNET', matches: [], pathIds: [] }) },
        {
          kind: 'registerEndpoint',
          nse: NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name: 'evil-ep', networkServiceNames: ['evil-svc'], networkServiceLabels: { 'evil-svc': { labels: { [MEMIF_ENDPOINT_LABEL]: 'true' } } }, url: `unix://${evilSocket}` })),
        },
        {
          kind: 'request',
          request: { connection: Connection.toJSON(Connection.fromPartial({ id: 'evil-1', networkService: 'evil-svc', path: { index: 0, pathSegments: [{ name: 'evil', id: 'evil-1' }] } })), mechanismPreferences: [mechanism] },
        },
        { kind: 'unregisterEndpoint', nse: NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name: 'evil-ep' })) },
      ],
    });
    const kernel = await fromNamespace(t, evil, plan(kernelMechanism({ inodeURL: inodeUrlOf(victim) }), kernelMechanism({ name: 'evil0', inodeURL: inodeUrlOf(evil) })));
    t.same(kernel.slice(0, 2).map((a) => a.code), ['OK', 'OK'], 'a pod may register its own endpoint with its own socket');
    t.equal(kernel[2].code, 'PERMISSION_DENIED', kernel[2].message);
    t.match(kernel[2].message, /endpoint evil-ep: it answered with network namespace inode:\/\/\d+\/\d+, but it runs in/);
    t.equal(kernel[3].code, 'OK', 'and unregister it');
    t.equal(link(victim, 'evil0'), undefined, 'nothing in the victim');
    t.equal(link(evil, 'evil0'), undefined, 'nothing left in the caller either');

    const socketfile = join(hidden, 'app.sock');
    const memif = await fromNamespace(t, evil, plan(memifMechanism({ socketfile, id: 0 }), memifMechanism()), hidden);
    t.equal(memif[2].code, 'PERMISSION_DENIED', memif[2].message);
    t.match(memif[2].message, /answered with memif socket .*app\.sock, which is not the file its own process \(pid \d+\) sees at that path/);
    t.same(existsSync(memifDir) ? readdirSync(memifDir) : [], [], 'no link to the socket was handed out');
    t.equal(link(victim, 'nsm-1')?.ifindex, victimIf, 'the victim keeps its interface');
  });

  await t.test('property: no call from a foreign caller changes kernel or registry state', async (t) => {
    const start = state();
    const namespacesOf = [victim, ep, node, other].map(inodeUrlOf).concat(['inode://4/1', 'inode://0/0']);
    const victimSegments = Connection.fromJSON(victimConn).path!.pathSegments;
    const hostile = fc.constantFrom('evil0', 'k1 netns x #', 'a%d', 'q"uote', 'tab\tx', 'nsm-1', '..', 'x'.repeat(16), 'ok-name');
    const id = fc.oneof(fc.constantFrom('victim-0', victimSegments[1]?.id ?? 'x', 'evil-0'), fc.string({ maxLength: 12 }), fc.uuid());
    const labels = fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 });
    const path = fc.oneof(
      id.map((i) => [{ name: 'evil', id: i }]),
      fc.constant(victimSegments),
      fc.array(fc.record({ name: fc.string({ maxLength: 8 }), id }), { maxLength: 3 }),
    );
    const call: fc.Arbitrary<ForeignCall> = fc.oneof(
      fc.record({ id, ns: fc.constantFrom(...namespacesOf), ifname: hostile, labels, path, index: fc.nat(4), service: fc.constantFrom('k2k', 'evil-svc', '') }).map((r): ForeignCall => ({
        kind: 'request',
        request: NetworkServiceRequest.toJSON({
          connection: Connection.fromPartial({ id: r.id, networkService: r.service, labels: r.labels, path: { index: r.index, pathSegments: r.path } }),
          mechanismPreferences: [kernelMechanism({ name: r.ifname, inodeURL: r.ns }), memifMechanism()],
        }),
      })),
      fc.record({ id, path, index: fc.nat(4) }).map((r): ForeignCall => ({ kind: 'close', connection: Connection.toJSON(Connection.fromPartial({ id: r.id, networkService: 'k2k', path: { index: r.index, pathSegments: r.path } })) })),
      fc.constant<ForeignCall>({ kind: 'close', connection: victimConn }),
      fc.record({ name: fc.constantFrom('icmp', `${p}-fwd`), url: fc.constantFrom(`unix://${epSocket}`, `unix://${join(dir, 'nothing.sock')}`, 'tcp://10.0.0.1:5000') }).map((r): ForeignCall => ({
        kind: 'registerEndpoint', nse: NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name: r.name, networkServiceNames: ['k2k'], url: r.url })),
      })),
      fc.constantFrom('icmp', 'k2k').map((name): ForeignCall => ({ kind: 'unregisterEndpoint', nse: NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name })) })),
      fc.constantFrom('IP', 'ETHERNET').map((payload): ForeignCall => ({ kind: 'registerService', ns: RegistryNetworkService.toJSON({ name: 'k2k', payload, matches: [{ sourceSelector: { app: 'evil' }, routes: [], fallthrough: false }], pathIds: [] }) })),
    );
    const calls = fc.sample(call, { numRuns: 150, seed: 20 });
    const answers = await fromNamespace(t, evil, { forwarder, calls });
    t.equal(answers.length, calls.length, `${calls.length} calls answered`);
    const codes = answers.reduce<Record<string, number>>((n, a) => ({ ...n, [a.code]: (n[a.code] ?? 0) + 1 }), {});
    t.comment(`answers: ${JSON.stringify(codes)}`);
    t.equal(codes.INTERNAL, undefined, `no INTERNAL answer: ${answers.filter((a) => a.code === 'INTERNAL').map((a) => a.message).join('; ')}`);
    const named = calls.flatMap((c, i) => (c.kind === 'request' && answers[i].code === 'OK' ? [i] : []));
    t.same(named, [], 'no Request naming a foreign namespace succeeded');
    t.equal(state(), start, 'after the random calls: no link, address or registry object changed anywhere');
    t.equal(link(victim, 'nsm-1')?.ifindex, victimIf, 'the victim keeps its interface');
    t.ok(ping(victim, peer), 'and its ping keeps working');
  });

  t.equal(fwd.child.exitCode, null, 'the forwarder kept running throughout');
});
