import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import {
  addNetns, addresses, links, runNsm, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests,
} from '../fixtures/netns.ts';
import { rxPackets, testpmd, txPackets, whyNoTestpmd } from '../fixtures/testpmd.ts';

const skip = whyNoKernelTests() || whyNoTestpmd();

const isSocket = (path: string) => { try { return statSync(path).isSocket(); } catch { return false; } };
const cpuTicks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15)
};

t.test('memif2memif on one node: testpmd to testpmd through the socket the forwarder handed out', { skip, timeout: 90_000 }, async (t) => {
  const p = uniquePrefix('m2m');
  const dir = tempDir(t, p);
  const [node, ep, c1, c2] = ['node', 'ep', 'c1', 'c2'].map((n) => addNetns(t, `${p}-${n}`));
  const sock = `unix://${join(dir, 'nsm.sock')}`;
  const forwarder = spawnNsm(t, node, ['forwarder'], {
    NSM_NAME: `${p}-fwd`, NSM_LISTEN_ON: sock, NSM_PEER_LISTEN_ON: '', NSM_REGISTRY_DIR: join(dir, 'registry'), NSM_MEMIF_DIR: join(dir, 'memif'), NSM_MAX_TOKEN_LIFETIME: '60s',
  });
  await waitFor('the forwarder socket', () => isSocket(join(dir, 'nsm.sock')));

  const appSocket = join(dir, 'ep-app/memif.sock');
  mkdirSync(join(dir, 'ep-app'), { mode: 0o700 });
  const server = testpmd(t, { netns: ep, role: 'server', socket: appSocket, id: 0, prefix: `${p}s`, seconds: 60 });
  await waitFor('the endpoint application\'s memif socket', () => isSocket(appSocket), 15_000);
  const endpoint = spawnNsm(t, ep, ['nse'], {
    NSM_NAME: 'mem-ep', NSM_SERVICE_NAMES: 'm2m', NSM_CIDR_PREFIX: '10.233.0.0/29', NSM_CONNECT_TO: sock,
    NSM_LISTEN_ON: `unix://${join(dir, 'mem-ep.sock')}`, NSM_MEMIF_SOCKET: appSocket,
  });
  await waitFor('the endpoint registration', () => existsSync(join(dir, 'registry/networkserviceendpoints/mem-ep.json')));

  const clientEnv = (name: string, services: string) => ({
    NSM_NAME: name, NSM_NETWORK_SERVICES: services, NSM_CONNECT_TO: sock, NSM_CONNECTIONS_DIR: join(dir, name), NSM_INIT_TIMEOUT: '10s',
  });
  const connection = (name: string, ifname: string) => JSON.parse(readFileSync(join(dir, name, `${ifname}.json`), 'utf8')) as {
    mechanism: { type: string; parameters: Record<string, string> }; context: { ipContext: { srcIpAddrs: string[] } };
  };

  const init = await runNsm(t, c1, ['nsc', 'init'], clientEnv('c1', 'memif://m2m/mem-1'));
  t.equal(init.code, 0, `nsc init: ${init.output}`);
  const conn = connection('c1', 'mem-1');
  t.equal(conn.mechanism.type, 'MEMIF');
  const { socketfile, id } = conn.mechanism.parameters;
  const linkDir = dirname(socketfile);
  t.equal(dirname(linkDir), join(dir, 'memif'), `the client gets a link in a directory of its own (${socketfile})`);
  t.equal(id, '0', 'the first connection gets interface id 0');
  t.equal(statSync(socketfile).ino, statSync(appSocket).ino, 'the link is the endpoint application\'s socket');
  t.equal(statSync(linkDir).mode & 0o777, 0o700);
  t.same(conn.context.ipContext.srcIpAddrs, ['10.233.0.2/32'], 'the IP context comes along (informational)');
  t.same(links(c1).map((l) => l.ifname), ['lo'], 'no kernel interface in the client pod');

  await t.test('the client application sends through the shared memory; the endpoint application receives it', async (t) => {
    const cpuBefore = cpuTicks(forwarder.child.pid!);
    const client = testpmd(t, { netns: c1, role: 'client', socket: socketfile, id: Number(id), prefix: `${p}c`, seconds: 40 });
    // testpmd takes seconds to start on a loaded machine: the run counts from the first packet received.
    await waitFor('the first packets at the endpoint application', () => rxPackets(server.output()) > 0, 20_000).catch(() => {});
    await sleep(2000);
    await client.stop(5000, () => txPackets(client.output()) > 0 && rxPackets(server.output()) >= txPackets(client.output()));
    const cpuTicksUsed = cpuTicks(forwarder.child.pid!) - cpuBefore;
    const tx = txPackets(client.output());
    const rx = rxPackets(server.output());
    t.ok(tx > 0, `the client sent ${tx} packets`);
    t.ok(rx > 0, `the endpoint application received ${rx} packets`);
    t.ok(rx >= tx * 0.99 && rx <= tx, `received ≈ sent (${rx} / ${tx} = ${(rx / tx).toFixed(3)})`);
    t.ok(cpuTicksUsed <= 20, `the forwarder stayed idle during the run (${cpuTicksUsed} ticks of CPU)`);
  });

  await t.test('a second client gets the next id; Close releases it and removes the link', async (t) => {
    const second = await runNsm(t, c2, ['nsc', 'init'], clientEnv('c2', 'memif://m2m/mem-1'));
    t.equal(second.code, 0, second.output);
    t.equal(connection('c2', 'mem-1').mechanism.parameters.id, '1');
    const run = spawnNsm(t, c1, ['nsc', 'run'], { ...clientEnv('c1', 'memif://m2m/mem-1'), NSM_LOG_LEVEL: 'debug' });
    await waitFor('nsc run to refresh the connection', () => run.output().includes('refreshed'));
    const code = await stopNsm(run);
    t.equal(code, 0, code === 0 ? 'nsc run closes on SIGTERM' : `nsc run exited ${code}: ${run.output()}`);
    t.notOk(existsSync(linkDir), 'the link directory is gone');
    t.ok(isSocket(appSocket), 'the endpoint application\'s socket stays');
    const again = await runNsm(t, c1, ['nsc', 'init'], clientEnv('c1', 'memif://m2m/mem-1'));
    t.equal(again.code, 0, again.output);
    t.equal(connection('c1', 'mem-1').mechanism.parameters.id, '0', 'the released id is handed out again');
  });

  await t.test('an endpoint without memif: MEMIF only fails naming why; fallback=kernel gets a veth pair', async (t) => {
    const kernelEp = addNetns(t, `${p}-kep`);
    const plain = spawnNsm(t, kernelEp, ['nse'], {
      NSM_NAME: 'kernel-ep', NSM_SERVICE_NAMES: 'm2k', NSM_CIDR_PREFIX: '10.234.0.0/29', NSM_CONNECT_TO: sock,
      NSM_LISTEN_ON: `unix://${join(dir, 'kernel-ep.sock')}`,
    });
    await waitFor('the kernel endpoint', () => existsSync(join(dir, 'registry/networkserviceendpoints/kernel-ep.json')));
    const refused = await runNsm(t, c2, ['nsc', 'init'], { ...clientEnv('c2k', 'memif://m2k/mem-2'), NSM_INIT_TIMEOUT: '1500ms' });
    t.equal(refused.code, 1);
    t.match(refused.output, /memif:\/\/m2k\/mem-2: .*endpoint "kernel-ep" has no memif socket \(it registered without NSM_MEMIF_SOCKET\)/);
    const fallback = await runNsm(t, c2, ['nsc', 'init'], clientEnv('c2k', 'memif://m2k/mem-2?fallback=kernel'));
    t.equal(fallback.code, 0, fallback.output);
    t.equal(connection('c2k', 'mem-2').mechanism.type, 'KERNEL');
    t.same(addresses(c2, 'mem-2'), ['10.234.0.2/32'], 'a kernel interface with its address');
    t.equal(await stopNsm(plain), 0);
  });

  t.equal(await stopNsm(endpoint), 0, 'endpoint exits 0 on SIGTERM');
  t.equal(await stopNsm(forwarder), 0, 'forwarder exits 0 on SIGTERM');
});
