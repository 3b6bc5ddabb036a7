import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parsePoolAlias, poolAlias } from '../../../forwarder/device-pools/tokens.ts';
import { Connection, kernelMechanism, NetworkServiceRequest } from '../../../proto/api.ts';
import { formatInodeUrl } from '../../../sdk/netns.ts';
import { fromNamespace } from '../../fixtures/foreign.ts';
import { startKubelet } from '../../fixtures/kubelet.ts';
import {
  addNetns, addresses, ip, link, links, ping, runNsm, spawnNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests, type NsmProcess,
} from '../../fixtures/netns.ts';

const skip = whyNoKernelTests();
const RADIO = 'nsm.example.com/radio';
const LAB = 'nsm.example.com/lab';
const POOLS = `pools:
  - resource: ${RADIO}
    service: radio
    devices: [radio0, radio1]
    cidrPrefix: 10.63.0.0/24
    excludePrefixes: [10.63.0.254/32]
    routes: [{ prefix: 10.66.0.0/16, nextHop: 10.63.0.254 }]
  - resource: ${LAB}
    service: lab
    devices: [lab0]
    cidrPrefix: 10.63.1.0/24
    excludePrefixes: [10.63.1.254/32]
    mtu: 1400
`;

t.test('device pools in real namespaces, with a stand-in kubelet', { skip, timeout: 240_000 }, async (t) => {
  const p = uniquePrefix('dp');
  const dir = tempDir(t, p);
  const owner = `${p}-node1`;
  const node = addNetns(t, `${p}-n1`);
  // The network behind the pools: a bridge with the gateway addresses; the members' peers are its ports.
  const net = addNetns(t, `${p}-net`);
  ip(['-n', net, 'link', 'add', 'br0', 'type', 'bridge']);
  ip(['-n', net, 'addr', 'add', '10.63.0.254/24', 'dev', 'br0']);
  ip(['-n', net, 'addr', 'add', '10.63.1.254/24', 'dev', 'br0']);
  ip(['-n', net, 'addr', 'add', '10.66.0.1/16', 'dev', 'br0']);
  ip(['-n', net, 'link', 'set', 'br0', 'up']);
  const port = (name: string, peer: string) => {
    ip(['-n', node, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer, 'netns', net]);
    ip(['-n', net, 'link', 'set', peer, 'master', 'br0', 'up']);
  };
  port('radio0', 'radio0-net');
  port('radio1', 'radio1-net');
  port('lab-up', 'lab-net');
  ip(['-n', node, 'link', 'set', 'lab-up', 'up']);
  const addLab = () => ip(['-n', node, 'link', 'add', 'lab0', 'link', 'lab-up', 'type', 'macvlan', 'mode', 'bridge']);
  addLab();

  const kubelet = await startKubelet(t, join(dir, 'kubelet'));
  const sock = join(dir, 'nsm.sock');
  const forwarderUrl = `unix://${sock}`;
  const registry = join(dir, 'registry');
  const poolFile = join(dir, 'pools.yaml');
  writeFileSync(poolFile, POOLS);
  const env = (file: string) => ({
    NSM_NAME: owner, NSM_LISTEN_ON: forwarderUrl, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: registry, NSM_MEMIF_DIR: join(dir, 'memif'),
    NSM_DEVICE_POOLS: file, NSM_DEVICE_PLUGIN_PATH: kubelet.pluginDir, NSM_POD_RESOURCES_PATH: kubelet.podResourcesDir, NSM_RESOURCE_POLL_TIMEOUT: '200ms',
  });
  let forwarder: NsmProcess;
  const startForwarder = async () => {
    forwarder = spawnNsm(t, node, ['forwarder'], env(poolFile));
    await waitFor('the forwarder socket', () => {
      if (forwarder.child.exitCode !== null) throw new Error(`the forwarder exited: ${forwarder.output()}`);
      try {
        return statSync(sock).isSocket();
      } catch {
        return false;
      }
    }, 20_000);
  };
  const killForwarder = async () => {
    forwarder.child.kill('SIGKILL');
    await forwarder.exited;
  };
  const healthy = (resource: string, n: number) => kubelet.devicesWhen(resource, (d) => d.length === n && d.every((x) => x.health === 'Healthy'), `${n} healthy devices of ${resource} at the kubelet`);

  const pods = new Map<string, string>();
  const pod = (name: string) => {
    const ns = addNetns(t, `${p}-${name}`);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    pods.set(name, ns);
    return ns;
  };
  const url = (service: string, resource: string) => `kernel://${service}/nsm-1?sriovToken=${resource}`;
  /** The pod as the kubelet starts it: admitted for one device, nsc init with the env Allocate answered. */
  const start = async (name: string, service = 'radio', resource = RADIO) => {
    const ns = pod(name);
    const tokens = await kubelet.admit({ name, namespace: 'demo' }, 'nsc-init', resource, 1);
    const r = await runNsm(t, ns, ['nsc', 'init'], {
      NSM_NAME: name, NSM_NETWORK_SERVICES: url(service, resource), NSM_CONNECT_TO: forwarderUrl, NSM_CONNECTIONS_DIR: join(dir, 'conns', name), NSM_INIT_TIMEOUT: '15s', ...tokens,
    });
    return { ns, tokens, ...r };
  };
  const saved = (name: string) => JSON.parse(readFileSync(join(dir, 'conns', name, 'nsm-1.json'), 'utf8')) as unknown;
  const close = (name: string) => fromNamespace(t, pods.get(name)!, { forwarder: forwarderUrl, calls: [{ kind: 'close', connection: saved(name) }] });
  /** The pool device that lies in `ns` as nsm-1, by its alias. */
  const deviceIn = (ns: string) => parsePoolAlias(owner, link(ns, 'nsm-1')?.ifalias)?.device;
  const atNode = (device: string) => link(node, device);

  await t.test('a pool file naming a device the node does not have stops the forwarder at start, naming the pool and the field', async (t) => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, POOLS.replace('[radio0, radio1]', '[radio0, radio9]'));
    const r = await runNsm(t, node, ['forwarder'], env(bad), 20_000);
    t.equal(r.code, 2, 'it exits (INVALID_ARGUMENT)');
    t.match(r.output, /pool nsm\.example\.com\/radio \(pools\[0\]\): devices\[1\] "radio9" does not exist in the node's network namespace/);
    writeFileSync(bad, POOLS.replace(`resource: ${RADIO}`, 'resource: radio'));
    const r2 = await runNsm(t, node, ['forwarder'], env(bad), 20_000);
    t.equal(r2.code, 2);
    t.match(r2.output, /pool radio \(pools\[0\]\): resource "radio" is not an extended resource name/);
    t.ok(atNode('radio0') && atNode('radio1'), 'the devices are where they were');
  });

  await startForwarder();

  await t.test('each pool registers with the kubelet (its devices healthy) and as an endpoint of its service', async (t) => {
    const radio = await healthy(RADIO, 2);
    await healthy(LAB, 1);
    t.same(radio.map((d) => d.ID), ['radio0', 'radio1'].map((d) => parsePoolAlias(owner, atNode(d)?.ifalias)?.token), 'each token is kept in its device\'s alias');
    const nse = JSON.parse(readFileSync(join(registry, 'networkserviceendpoints', `${owner}-nsm.example.com-radio`.toLowerCase() + '.json'), 'utf8')) as { networkServiceNames: string[]; networkServiceLabels: Record<string, { labels: Record<string, string> }> };
    t.same(nse.networkServiceNames, ['radio']);
    t.same(nse.networkServiceLabels.radio.labels, { sriovToken: RADIO, nodeName: owner });
  });

  await t.test('a client gets the device of its token as nsm-1, with its address, MTU and routes, and reaches the network behind the pool', async (t) => {
    const c1 = await start('c1');
    t.equal(c1.code, 0, c1.output);
    const device = deviceIn(c1.ns);
    t.ok(device, 'the pool device is in the pod as nsm-1');
    t.equal(parsePoolAlias(owner, link(c1.ns, 'nsm-1')?.ifalias)?.token, c1.tokens[`NSM_SRIOV_TOKENS_${RADIO}`], 'the one its token stands for');
    t.same(addresses(c1.ns, 'nsm-1'), ['10.63.0.1/24'], 'the first address, with the prefix\'s own length');
    t.match(ip(['-n', c1.ns, 'route', 'show', '10.66.0.0/16']), /10\.66\.0\.0\/16 via 10\.63\.0\.254 dev nsm-1/);
    t.ok(link(c1.ns, 'nsm-1')?.flags?.includes('UP'));
    t.notOk(atNode(device!), 'gone from the node\'s namespace meanwhile');
    t.ok(await waitFor('a ping to the network behind the pool', () => ping(c1.ns, '10.63.0.254'), 10_000));
    t.ok(ping(c1.ns, '10.66.0.1'), 'and through its route');
    const conn = Connection.fromJSON(saved('c1'));
    t.equal(conn.mechanism?.parameters.tokenID, c1.tokens[`NSM_SRIOV_TOKENS_${RADIO}`], 'the connection carries its token (nsc run heals with it)');
    t.same(conn.context?.ipContext?.srcIpAddrs, ['10.63.0.1/24']);
  });

  await t.test('a second client gets the other device; a third finds none free, and a request without a token says what to put in resources.limits', async (t) => {
    const c2 = await start('c2');
    t.equal(c2.code, 0, c2.output);
    t.ok(deviceIn(c2.ns) && deviceIn(c2.ns) !== deviceIn(pods.get('c1')!), 'two clients, two devices');
    t.same(addresses(c2.ns, 'nsm-1'), ['10.63.0.2/24']);
    t.ok(await waitFor('c2 pings', () => ping(c2.ns, '10.63.0.254'), 10_000));
    t.notOk(atNode('radio0') ?? atNode('radio1'), 'both are lent');

    await t.rejects(kubelet.admit({ name: 'c3', namespace: 'demo' }, 'nsc-init', RADIO, 1), /UnexpectedAdmissionError: requested 1 of nsm\.example\.com\/radio, 0 healthy and free of 2/, 'the kubelet has no device for a third pod');
    const c3 = pod('c3');
    const init = await runNsm(t, c3, ['nsc', 'init'], { NSM_NAME: 'c3', NSM_NETWORK_SERVICES: url('radio', RADIO), NSM_CONNECT_TO: forwarderUrl, NSM_CONNECTIONS_DIR: join(dir, 'conns', 'c3') });
    t.not(init.code, 0, 'nsc init without a token fails at once');
    t.match(init.output, /no token of nsm\.example\.com\/radio in this container's environment .*: put "nsm\.example\.com\/radio: 1" in resources\.limits of this container/);
    const c3Netns = formatInodeUrl(statSync(`/run/netns/${c3}`));
    const request = (token?: string) => NetworkServiceRequest.toJSON({
      connection: Connection.fromPartial({ id: `c3-${token ?? 'none'}`, networkService: 'radio', labels: { sriovToken: RADIO }, path: { index: 0, pathSegments: [{ name: 'c3', id: 'c3-0' }] } }),
      mechanismPreferences: [{ ...kernelMechanism({ name: 'nsm-1', inodeURL: c3Netns }), ...(token ? { parameters: { name: 'nsm-1', inodeURL: c3Netns, tokenID: token } } : {}) }],
    });
    const [noToken, stranger] = await fromNamespace(t, c3, { forwarder: forwarderUrl, calls: [{ kind: 'request', request: request() }, { kind: 'request', request: request('sriov-00000000-0000-4000-8000-000000000000') }] });
    t.equal(noToken.code, 'FAILED_PRECONDITION', noToken.message);
    t.match(noToken.message, /network service radio is served from device pools \(nsm\.example\.com\/radio\), and the request claims no token: put "nsm\.example\.com\/radio: 1" in resources\.limits/);
    t.equal(stranger.code, 'FAILED_PRECONDITION', stranger.message);
    t.match(stranger.message, /token sriov-0+-0+-4000-8000-0+ was not handed out by a device pool of this node: .*put "nsm\.example\.com\/radio: 1" in resources\.limits/);
    t.equal(link(c3, 'nsm-1'), undefined, 'nothing lent to it');
  });

  await t.test('Close moves the device back to the node\'s namespace under its own name, down, without addresses', async (t) => {
    const c1 = pods.get('c1')!;
    const device = deviceIn(c1)!;
    const [answer] = await close('c1');
    t.equal(answer.code, 'OK', answer.message);
    t.equal(link(c1, 'nsm-1'), undefined, 'gone from the pod');
    const back = atNode(device);
    t.ok(back, `${device} is back`);
    t.notOk(back?.flags?.includes('UP'), 'down');
    t.same(addresses(node, device), [], 'without addresses');
    kubelet.forget({ name: 'c1', namespace: 'demo' });
  });

  await t.test('a pod namespace deleted without a Close: the device comes back once the kubelet no longer lists the pod\'s token', async (t) => {
    const c2 = pods.get('c2')!;
    const device = deviceIn(c2)!;
    ip(['netns', 'del', c2]);
    kubelet.forget({ name: 'c2', namespace: 'demo' });
    const back = await waitFor(`${device} back in the node's namespace`, () => atNode(device), 10_000);
    t.notOk(back.flags?.includes('UP'), 'down');
    t.same(addresses(node, device), []);
    await healthy(RADIO, 2);
  });

  await t.test('the kubelet restarts: every pool registers again by itself, and clients are served', async (t) => {
    const before = kubelet.plugins.get(RADIO)!.devices.map((d) => d.ID);
    await kubelet.restart();
    const after = await healthy(RADIO, 2);
    await healthy(LAB, 1);
    t.same(after.map((d) => d.ID), before, 'the same tokens');
    const c4 = await start('c4');
    t.equal(c4.code, 0, c4.output);
    t.same(addresses(c4.ns, 'nsm-1'), ['10.63.0.1/24'], 'the released address goes out again');
    const [answer] = await close('c4');
    t.equal(answer.code, 'OK');
    kubelet.forget({ name: 'c4', namespace: 'demo' });
  });

  await t.test('a member deleted is Unhealthy until it is back; so is one whose lower device is down', async (t) => {
    const [lab] = await healthy(LAB, 1);
    ip(['-n', node, 'link', 'del', 'lab0']);
    await kubelet.devicesWhen(LAB, (d) => d[0]?.health === 'Unhealthy', 'lab0 Unhealthy at the kubelet');
    addLab();
    const back = await healthy(LAB, 1);
    t.equal(back[0].ID, lab.ID, 'a member re-created under its name keeps its token');
    ip(['-n', node, 'link', 'set', 'lab-up', 'down']);
    await kubelet.devicesWhen(LAB, (d) => d[0]?.health === 'Unhealthy', 'Unhealthy while its parent is down');
    ip(['-n', node, 'link', 'set', 'lab-up', 'up']);
    await healthy(LAB, 1);
  });

  await t.test('a macvlan member: its pool\'s MTU, its own network', async (t) => {
    const c5 = await start('c5', 'lab', LAB);
    t.equal(c5.code, 0, c5.output);
    t.equal(deviceIn(c5.ns), 'lab0');
    t.equal((JSON.parse(ip(['-n', c5.ns, '-j', 'link', 'show', 'nsm-1'])) as Array<{ mtu: number }>)[0].mtu, 1400);
    t.same(addresses(c5.ns, 'nsm-1'), ['10.63.1.1/24']);
    t.ok(await waitFor('a ping from the macvlan', () => ping(c5.ns, '10.63.1.254'), 10_000));
    t.equal(Connection.fromJSON(saved('c5')).context?.MTU, 1400, 'the connection says so');
  });

  await t.test('a forwarder restart: a lent device stays with its client and is adopted on its refresh; a device back under another name gets its own', async (t) => {
    const c6 = await start('c6');
    t.equal(c6.code, 0, c6.output);
    const device = deviceIn(c6.ns)!;
    const other = device === 'radio0' ? 'radio1' : 'radio0';
    await killForwarder();
    // As a physical device comes back when its pod's namespace ends: under another name, alias kept.
    ip(['-n', node, 'link', 'set', other, 'name', 'dev77']);
    await startForwarder();
    await waitFor(`${other} renamed back`, () => atNode(other) && !atNode('dev77'), 10_000);
    await healthy(RADIO, 2);
    t.ok(link(c6.ns, 'nsm-1'), 'the device stayed in the pod');
    t.ok(ping(c6.ns, '10.63.0.254'), 'and carries traffic');
    const conn = Connection.fromJSON(saved('c6'));
    const refresh = NetworkServiceRequest.toJSON({ connection: conn, mechanismPreferences: [{ ...conn.mechanism!, parameters: { ...conn.mechanism!.parameters } }] });
    const [answer, closed] = await fromNamespace(t, c6.ns, { forwarder: forwarderUrl, calls: [{ kind: 'request', request: refresh }, { kind: 'close', connection: saved('c6') }] });
    t.equal(answer.code, 'OK', `the refresh adopts it: ${answer.message}`);
    t.equal(closed.code, 'OK', closed.message);
    t.ok(atNode(device), 'and Close moves it back');
    t.equal(link(c6.ns, 'nsm-1'), undefined);
    t.same(links(node).filter((l) => l.ifname.startsWith('nsmpool')), [], 'no device left under a spare name');
  });

  await t.test('no pod may register an endpoint under a pool\'s name', async (t) => {
    const c3 = pods.get('c3')!;
    const [answer] = await fromNamespace(t, c3, {
      forwarder: forwarderUrl,
      calls: [{ kind: 'registerEndpoint', nse: { name: `${owner}-nsm.example.com-radio`.toLowerCase(), networkServiceNames: ['radio'], url: `unix://${join(dir, 'evil.sock')}` } }],
    });
    t.equal(answer.code, 'PERMISSION_DENIED', answer.message);
    t.match(answer.message, /is a device pool this forwarder serves itself/);
  });

  await t.test('a device an earlier forwarder lent and no client refreshes comes back after a connection lifetime', async (t) => {
    const c5 = pods.get('c5')!;
    t.equal(deviceIn(c5), 'lab0', 'lent before the restart');
    await killForwarder();
    forwarder = spawnNsm(t, node, ['forwarder'], { ...env(poolFile), NSM_MAX_TOKEN_LIFETIME: '1s' });
    await waitFor('lab0 back in the node\'s namespace', () => atNode('lab0'), 15_000);
    t.equal(link(c5, 'nsm-1'), undefined, 'gone from the pod');
    await healthy(LAB, 1);
  });

  await t.test('the aliases a forwarder writes are its own', async (t) => {
    t.equal(parsePoolAlias('another-forwarder', atNode('radio0')?.ifalias), undefined);
    t.ok(poolAlias(owner, 'radio0', 'sriov-x').length < 100);
  });
});
