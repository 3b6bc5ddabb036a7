import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { Connection, kernelMechanism, memifMechanism, NetworkServiceRequest } from '../../../proto/api.ts';
import { fromNamespace } from '../../fixtures/foreign.ts';
import { startMesh } from '../../fixtures/mesh.ts';
import { addNetns, ip, links, ping, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests, type NsmProcess } from '../../fixtures/netns.ts';

const skip = whyNoKernelTests();

const inodeOf = (netns: string) => {
  const s = statSync(`/run/netns/${netns}`);
  return `inode://${s.dev}/${s.ino}`;
};

/** Asks a forwarder or endpoint process what it holds (SIGUSR2) and reads the answer from its log. */
async function heldBy(p: NsmProcess): Promise<Record<string, number>> {
  const count = (p.output().match(/"msg":"state held"/g) ?? []).length;
  p.child.kill('SIGUSR2');
  const line = await waitFor('the state line', () => {
    const lines = p.output().split('\n').filter((l) => l.includes('"msg":"state held"'));
    return lines.length > count && lines.at(-1);
  });
  return (JSON.parse(line) as { held: Record<string, number> }).held;
}

const fds = (p: NsmProcess) => readdirSync(`/proc/${p.child.pid}/fd`).length;

/**
 * Nothing is left behind: after hundreds of connect/close cycles of each kind (same-node kernel,
 * memif, across nodes) and after the heal scenarios (an endpoint pod deleted, the endpoint's
 * forwarder restarted, an endpoint process crashed and restarted), no interface, tunnel, VNI,
 * address, memif id, file descriptor or registry entry remains beyond what live connections hold.
 */
t.test('nothing leaks', { skip, timeout: 240_000 }, async (t) => {
  const p = uniquePrefix('hl');
  const memifDir = join(tempDir(t, `${p}m`), 'memif');
  const forwarderEnv = { NSM_LOG_LEVEL: 'info', NSM_EXPIRE_PERIOD: '8s', NSM_MEMIF_DIR: memifDir };
  const mesh = await startMesh(t, p, 2, '10.250.204', forwarderEnv);
  const [epK, epK2, epM, epR, ck, cm, cr, h1, h2] = ['epk', 'epk2', 'epm', 'epr', 'ck', 'cm', 'cr', 'h1', 'h2'].map((n) => addNetns(t, `${p}-${n}`));
  for (const ns of [ck, cm, cr, h1, h2]) ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  const app = createServer().listen(join(mesh.dir, 'memif-app.sock'));
  t.teardown(() => app.close());
  await once(app, 'listening');

  const registered = (name: string) => existsSync(join(mesh.dir, 'registry/networkserviceendpoints', `${name}.json`));
  const endpoints = new Map<string, { ns: string; node: number; service: string; proc: NsmProcess; extra: Record<string, string> }>();
  const startEndpoint = async (name: string, ns: string, node: number, service: string, extra: Record<string, string> = {}) => {
    const proc = spawnNsm(t, ns, ['nse'], {
      NSM_NAME: name, NSM_SERVICE_NAMES: service, NSM_CIDR_PREFIX: '10.244.0.0/22', NSM_CONNECT_TO: `unix://${mesh.nodes[node].socket}`,
      NSM_LISTEN_ON: `unix://${join(mesh.dir, `${name}.sock`)}`, NSM_LOG_LEVEL: 'info', NSM_DIAL_TIMEOUT: '1s', ...extra,
    });
    endpoints.set(name, { ns, node, service, proc, extra });
    await waitFor(`endpoint ${name}`, () => registered(name) && proc.output().includes('endpoint registered'), 15_000);
  };
  await startEndpoint('ep-k', epK, 0, 'lk');
  await startEndpoint('ep-k2', epK2, 0, 'lk');
  await startEndpoint('ep-m', epM, 0, 'lm', { NSM_MEMIF_SOCKET: join(mesh.dir, 'memif-app.sock') });
  await startEndpoint('ep-r', epR, 1, 'lr');

  const request = (ns: string, service: string, mechanism: 'kernel' | 'memif') => NetworkServiceRequest.toJSON({
    connection: Connection.fromPartial({ id: `${ns}-0`, networkService: service, path: { index: 0, pathSegments: [{ name: ns, id: `${ns}-0` }] } }),
    mechanismPreferences: [mechanism === 'kernel' ? kernelMechanism({ name: 'nsm-x', inodeURL: inodeOf(ns) }) : memifMechanism()],
  });
  const cycles = async (times: { k: number; m: number; r: number }) => {
    const answers = await Promise.all([
      fromNamespace(t, ck, { forwarder: `unix://${mesh.nodes[0].socket}`, calls: [{ kind: 'cycles', request: request(ck, 'lk', 'kernel'), times: times.k }] }),
      fromNamespace(t, cm, { forwarder: `unix://${mesh.nodes[0].socket}`, calls: [{ kind: 'cycles', request: request(cm, 'lm', 'memif'), times: times.m }] }),
      fromNamespace(t, cr, { forwarder: `unix://${mesh.nodes[0].socket}`, calls: [{ kind: 'cycles', request: request(cr, 'lr', 'kernel'), times: times.r }] }),
    ]);
    for (const [a] of answers) t.equal(a.code, 'OK', `cycles: ${a.message}`);
  };
  await cycles({ k: 10, m: 10, r: 10 });
  await new Promise((r) => setTimeout(r, 3000)); // idle kernel sessions close after 2 s
  const forwarders = () => mesh.nodes.map((n) => n.forwarder);
  const fdsBefore = forwarders().map(fds);

  await t.test('connect/close cycles of each kind', async () => {
    await cycles({ k: 300, m: 300, r: 100 });
  });

  await t.test('heal scenarios with clients kept by nsc run', async (t) => {
    const run = (ns: string, service: string, node: number) => spawnNsm(t, ns, ['nsc', 'run'], {
      NSM_NAME: ns, NSM_NETWORK_SERVICES: `kernel://${service}/nsm-1`, NSM_CONNECT_TO: `unix://${mesh.nodes[node].socket}`, NSM_CONNECTIONS_DIR: join(mesh.dir, 'conns', ns),
    });
    const local = run(h1, 'lk', 0);
    const remote = run(h2, 'lr', 0);
    await waitFor('both connected', () => links(h1).some((l) => l.ifname === 'nsm-1') && links(h2).some((l) => l.ifname === 'nsm-1'), 20_000);
    const on = (ns: string) => mesh.connection(ns) as unknown as { networkServiceEndpointName: string };
    const first = on(h1).networkServiceEndpointName;
    const other = first === 'ep-k' ? 'ep-k2' : 'ep-k';
    const doomed = endpoints.get(first)!;
    doomed.proc.child.kill('SIGKILL');
    await doomed.proc.exited;
    ip(['netns', 'del', doomed.ns]);
    endpoints.delete(first);
    await waitFor(`h1 on ${other}`, () => on(h1).networkServiceEndpointName === other, 20_000);

    t.equal(await stopNsm(mesh.nodes[1].forwarder), 0, 'node2\'s forwarder stops');
    const restarted = await mesh.startForwarder(1, forwarderEnv);
    await waitFor('node2\'s new forwarder adopting h2\'s tunnel', () => restarted.output().includes('adopted the tunnel of a previous forwarder'), 20_000);
    const crashed = endpoints.get(other)!;
    crashed.proc.child.kill('SIGKILL');
    await crashed.proc.exited;
    await startEndpoint(other, crashed.ns, crashed.node, crashed.service);
    await waitFor('h2 pings across nodes', () => ping(h2, mesh.connection(h2).context.ipContext.dstIpAddrs[0].split('/')[0]), 20_000);
    t.ok(ping(h1, mesh.connection(h1).context.ipContext.dstIpAddrs[0].split('/')[0]), 'h1 pings');
    t.equal(await stopNsm(local), 0);
    t.equal(await stopNsm(remote), 0);
  });

  await t.test('what is left: nothing beyond what was there before the cycles', async (t) => {
    // Expired registrations of deleted endpoints are swept (NSM_EXPIRE_PERIOD=8s); idle kernel sessions close after 2 s.
    const expected = [...endpoints.keys()].map((n) => `${n}.json`).sort();
    const registered = () => readdirSync(join(mesh.dir, 'registry/networkserviceendpoints')).sort();
    await waitFor('the deleted endpoint swept from the registry', () => registered().length === endpoints.size, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    const namespaces = [...mesh.nodes.map((n) => n.netns), ...[...endpoints.values()].map((e) => e.ns), ck, cm, cr, h1, h2];
    const nodes = new Set(mesh.nodes.map((n) => n.netns));
    for (const ns of namespaces) {
      const left = links(ns).map((l) => l.ifname).filter((n) => n !== 'lo' && !(nodes.has(ns) && n === 'ul0'));
      t.same(left, [], `no interface or tunnel left in ${ns}`);
    }
    // A refresh writes a temporary file and renames it: one seen in flight is given 2 s to go.
    await waitFor('no registry write in flight', () => registered().every((f) => !f.endsWith('.tmp')), 2000).catch(() => undefined);
    t.same(registered(), expected, 'only the live endpoints are registered');
    for (const [i, f] of forwarders().entries()) {
      const held = await heldBy(f);
      const { watchedNamespaces, ...rest } = held;
      t.same(rest, Object.fromEntries(Object.keys(rest).map((k) => [k, 0])), `node${i + 1}'s forwarder holds nothing: ${JSON.stringify(held)}`);
      t.ok(watchedNamespaces <= namespaces.length, `it watches at most the namespaces that exist (${watchedNamespaces})`);
    }
    t.ok(fds(forwarders()[0]) <= fdsBefore[0], `node1's forwarder has no more file descriptors than before the cycles (${fdsBefore[0]} → ${fds(forwarders()[0])})`);
    for (const [name, e] of endpoints) {
      const held = await heldBy(e.proc);
      t.same(held, { connections: 0, addresses: 0, unclaimedAddresses: 0, memifIds: 0 }, `${name} holds no connection, address or memif id`);
    }
    t.same(existsSync(memifDir) ? readdirSync(memifDir) : [], [], 'no memif socket link left');
  });
});
