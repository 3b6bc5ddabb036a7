import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { Connection, kernelMechanism, NetworkServiceEndpoint, RegistryNetworkService, vxlanMechanism } from '../../proto/api.ts';
import { EXTERNAL_DEVICE_LABEL } from '../../proto/external.ts';
import { fromNamespace } from '../fixtures/foreign.ts';
import { captureVxlan } from '../fixtures/capture.ts';
import { startMesh } from '../fixtures/mesh.ts';
import { addNetns, links, ping, ROOT, spawnNsm, stopNsm, tempDir, uniquePrefix, waitFor, whyNoKernelTests, type T } from '../fixtures/netns.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = whyNoKernelTests() || (has('jq') ? false : 'the example hook reads its input with jq (apt-get install jq)') || (has('tcpdump') ? false : 'tcpdump is not installed');

interface HookCall {
  action: string;
  conn: { id: string; payload: string; mechanism: { type: string; parameters: Record<string, string> }; context: { MTU: number; ipContext: { srcIpAddrs: string[]; dstIpAddrs: string[] } } };
  raw: string;
}

function script(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

/** The example's hook as its ConfigMap ships it, behind a wrapper that records each call and its input. */
function recordedExampleHook(dir: string) {
  const example = script(dir, 'example-hook.sh', parse(readFileSync(join(ROOT, 'examples/external-device/2-hook.yaml'), 'utf8')).data['hook.sh']);
  const log = join(dir, 'hook.log');
  const path = script(dir, 'recording-hook.sh', [
    '#!/bin/sh',
    'input=$(cat)',
    `printf '%s %s\\n' "$1" "$(printf '%s' "$input" | jq -c .)" >> '${log}'`,
    `printf '%s' "$input" | exec '${example}' "$1"`,
    '',
  ].join('\n'));
  const calls = (): HookCall[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []).map((l) => {
    const [action, ...rest] = l.split(' ');
    return { action, conn: JSON.parse(rest.join(' ')), raw: rest.join(' ') };
  });
  return { path, calls };
}

interface VxlanInfo { ifname: string; ifalias?: string; linkinfo?: { info_kind: string; info_data?: { id?: number; remote?: string; local?: string } } }
const vxlans = (ns: string) => (JSON.parse(spawnSync('ip', ['-n', ns, '-j', '-d', 'link', 'show'], { encoding: 'utf8' }).stdout) as VxlanInfo[]).filter((l) => l.linkinfo?.info_kind === 'vxlan');
const nsmLinks = (ns: string) => links(ns).filter((l) => l.ifalias?.startsWith('nsm:'));
const extraLinks = (ns: string) => links(ns).filter((l) => l.ifname !== 'lo' && l.ifname !== 'ul0');
const deviceAddress = (conn: { context: { ipContext: { dstIpAddrs: string[] } } }) => conn.context.ipContext.dstIpAddrs[0].split('/')[0];

/** Whether the process is gone (or a zombie waiting to be reaped). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function deviceMesh(t: T, tag: string, subnet: string) {
  const p = uniquePrefix(tag);
  // Short lifetimes so that `nsm nsc run` refreshes within the test.
  const mesh = await startMesh(t, p, 2, subnet, { NSM_MAX_TOKEN_LIFETIME: '6s', NSM_EXTERNAL_DEVICE_CIDRS: '192.0.2.0/24' });
  const device = mesh.addDevice('router');
  const dir = tempDir(t, `${p}-hooks`);
  const endpointEnv = (hook: string, extra: Record<string, string> = {}) => ({
    NSM_MODE: 'external', NSM_EXTERNAL_DEVICE_IP: device.ip, NSM_EXTERNAL_HOOK: hook, NSM_MAX_TOKEN_LIFETIME: '6s',
    // What the example hook reads to find the namespace standing for the router.
    NSM_SANDBOX_NETNS_PREFIX: `${p}-`, DEVICE: 'router', ...extra,
  });
  const clientEnv = (client: string, service: string) => ({
    NSM_NAME: client, NSM_NETWORK_SERVICES: `kernel://${service}/nsm-1`, NSM_CONNECT_TO: `unix://${mesh.nodes[0].socket}`, NSM_CONNECTIONS_DIR: join(mesh.dir, 'conns', client),
  });
  return { p, mesh, device, dir, endpointEnv, clientEnv, ul: `${p}-ul` };
}

for (const where of ['another node', 'the client\'s node'] as const) {
  t.test(`external device, endpoint on ${where}: the client's node tunnels straight to the device`, { skip, timeout: 120_000 }, async (t) => {
    const { p, mesh, device, dir, endpointEnv, clientEnv, ul } = await deviceMesh(t, where === 'another node' ? 'exb' : 'exa', where === 'another node' ? '10.250.210' : '10.250.211');
    const [a, b] = mesh.nodes;
    const endpointNode = where === 'another node' ? 1 : 0;
    const hook = recordedExampleHook(dir);
    const [ep, c1] = [addNetns(t, `${p}-ep`), addNetns(t, `${p}-c1`)];
    const endpoint = await mesh.startEndpoint(endpointNode, ep, 'router-ep', 'router', '10.238.0.0/24', endpointEnv(hook.path));

    const r = await mesh.init(0, c1, 'c1', 'router');
    t.equal(r.code, 0, `the client on node1 connects: ${r.output}`);
    const run = spawnNsm(t, c1, ['nsc', 'run'], clientEnv('c1', 'router'));
    const conn = mesh.connection('c1');
    const extra = conn.context.extraContext;
    t.equal(extra.tunnel, 'VXLAN', 'the connection reports a VXLAN tunnel');
    t.equal(extra.tunnel_dst_ip, device.ip, 'whose far end is the device');
    t.equal(extra.tunnel_src_ip, a.ip, 'and near end the client\'s node');
    const vni = Number(extra.tunnel_vni);
    const clientEnd = vxlans(c1).find((l) => l.ifname === 'nsm-1');
    t.equal(clientEnd?.linkinfo?.info_data?.id, vni, `the client's interface is a VXLAN device with VNI ${vni}, straight in the pod`);
    t.equal(clientEnd?.linkinfo?.info_data?.remote, device.ip, 'pointing at the device');
    t.equal(conn.context.MTU, 1450, 'MTU = underlay 1500 - 50');

    const towardsDevice = captureVxlan(ul, 'port1', 4, 10);
    const towardsB = captureVxlan(ul, 'port2', 1, 6);
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.ok(ping(c1, deviceAddress(conn)), `the client pings the device's end of the tunnel (${deviceAddress(conn)})`);
    t.ok(ping(c1, deviceAddress(conn)), 'again');
    const [dumpA, dumpB] = await Promise.all([towardsDevice, towardsB]);
    t.match(dumpA, new RegExp(`${a.ip.replaceAll('.', '\\.')}\\.\\d+ > ${device.ip.replaceAll('.', '\\.')}\\.4789: VXLAN.*vni ${vni}\\b`), 'the underlay carries the VNI from the client\'s node to the device');
    t.match(dumpA, new RegExp(`${device.ip.replaceAll('.', '\\.')}\\.\\d+ > ${a.ip.replaceAll('.', '\\.')}\\.4789: VXLAN.*vni ${vni}\\b`), 'and back');
    t.notMatch(dumpB, /VXLAN/, `nothing of it goes towards node2 (${b.ip})`);

    const applies = hook.calls().filter((c) => c.action === 'apply');
    t.equal(applies.length, 1, 'the hook ran apply once');
    const seen = applies[0]?.conn;
    t.equal(seen?.mechanism.type, 'VXLAN');
    t.same(
      { src: seen?.mechanism.parameters.src_ip, dst: seen?.mechanism.parameters.dst_ip, vni: Number(seen?.mechanism.parameters.vni), port: seen?.mechanism.parameters.dst_port, mtu: seen?.context.MTU },
      { src: a.ip, dst: device.ip, vni, port: '4789', mtu: 1450 },
      'with the negotiated parameters',
    );
    t.same(seen?.context.ipContext.dstIpAddrs, conn.context.ipContext.dstIpAddrs, 'and the device\'s address');
    t.notMatch(applies[0]?.raw ?? '', /inode:|"inodeURL"/, 'the endpoint never sees the client\'s namespace');
    const deviceEnd = vxlans(`${p}-router`);
    t.equal(deviceEnd.length, 1, 'the hook made one tunnel interface on the device');
    t.same([deviceEnd[0]?.linkinfo?.info_data?.id, deviceEnd[0]?.linkinfo?.info_data?.remote], [vni, a.ip], 'with the VNI, towards the client\'s node');
    t.same(vxlans(mesh.nodes[endpointNode].netns).concat(vxlans(ep)), [], 'the endpoint\'s node and pod carry no tunnel');

    await new Promise((resolve) => setTimeout(resolve, 3000)); // longer than a refresh period (a third of 6 s)
    t.equal(hook.calls().filter((c) => c.action === 'apply').length, 1, 'refreshes with the same parameters do not apply again');
    t.ok(ping(c1, deviceAddress(conn)), 'still pings after refreshes');

    if (where === 'another node') {
      // A crash, not a stop: an endpoint that stops unregisters, and its clients reselect at once.
      await t.test('a crashed and restarted endpoint applies again on the next refresh, with the same VNI', async (t) => {
        endpoint.child.kill('SIGKILL');
        t.equal(await endpoint.exited, null, 'the endpoint crashes (its connections stay)');
        await mesh.startEndpoint(endpointNode, ep, 'router-ep', 'router', '10.238.0.0/24', endpointEnv(hook.path));
        await waitFor('the refresh that re-applies', () => hook.calls().filter((c) => c.action === 'apply').length === 2, 10_000);
        t.equal(hook.calls().at(-1)?.conn.mechanism.parameters.vni, String(vni), 'the connection keeps its VNI');
        t.same(hook.calls().at(-1)?.conn.context.ipContext.dstIpAddrs, conn.context.ipContext.dstIpAddrs, 'and its addresses');
        t.equal(vxlans(c1).find((l) => l.ifname === 'nsm-1')?.linkinfo?.info_data?.id, vni, 'the client\'s interface is the same tunnel');
        // The recording wrapper logs before the example hook runs: wait for the device's side.
        t.ok(await waitFor('a ping through the re-applied device', () => ping(c1, deviceAddress(conn)), 8000), 'the client pings the device again');
      });
    }

    t.equal(await stopNsm(run), 0, `nsc run closes the connection on SIGTERM: ${run.output()}`);
    t.equal(hook.calls().at(-1)?.action, 'delete', 'Close ran the hook\'s delete');
    t.equal(hook.calls().at(-1)?.conn.mechanism.parameters.vni, String(vni), 'for that connection');
    t.same(nsmLinks(c1), [], 'the client\'s interface is gone');
    t.same(vxlans(`${p}-router`), [], 'and so is the device\'s');
    t.same([...extraLinks(a.netns), ...extraLinks(b.netns)], [], 'nothing left on either node');
  });
}

t.test('a hook that exits 1: nsc init fails quoting it; nothing is left in the client pod or on the nodes', { skip, timeout: 120_000 }, async (t) => {
  const { p, mesh, dir, endpointEnv } = await deviceMesh(t, 'exf', '10.250.212');
  const failing = script(dir, 'failing-hook.sh', '#!/bin/sh\ncat >/dev/null\n[ "$1" = delete ] && exit 0\necho "starting the tunnel on router1" >&2\necho "router1 refused: no licence for another tunnel" >&2\nexit 1\n');
  const [ep, c1] = [addNetns(t, `${p}-ep`), addNetns(t, `${p}-c1`)];
  await mesh.startEndpoint(1, ep, 'router-fail', 'router-fail', '10.239.0.0/24', endpointEnv(failing));
  const r = await mesh.init(0, c1, 'c1', 'router-fail', { NSM_INIT_TIMEOUT: '3s' });
  t.equal(r.code, 1, 'init fails, on its own before the test\'s limit');
  t.match(r.output, /kernel:\/\/router-fail\/nsm-1: .*hook .*failing-hook\.sh apply exited with 1: router1 refused: no licence for another tunnel/, 'quoting the hook\'s last stderr line');
  t.same(nsmLinks(c1), [], 'no interface in the client pod');
  t.same([...extraLinks(mesh.nodes[0].netns), ...extraLinks(mesh.nodes[1].netns)], [], 'nothing on either node');
  t.same(vxlans(`${p}-router`), [], 'nothing on the device');
});

t.test('a hook that hangs: the request fails at NSM_REQUEST_TIMEOUT and the hook is killed with what it started', { skip, timeout: 120_000 }, async (t) => {
  const { p, mesh, dir, endpointEnv } = await deviceMesh(t, 'exh', '10.250.213');
  const pids = join(dir, 'pids');
  const hanging = script(dir, 'hanging-hook.sh', [
    '#!/bin/sh',
    'cat >/dev/null',
    '[ "$1" = delete ] && exit 0',
    `echo $$ >> '${pids}'`,
    'sleep 600 &',
    `echo $! >> '${pids}'`,
    'echo "waiting for the router\'s management API" >&2',
    'wait',
    '',
  ].join('\n'));
  const [ep, c1] = [addNetns(t, `${p}-ep`), addNetns(t, `${p}-c1`)];
  await mesh.startEndpoint(0, ep, 'router-hang', 'router-hang', '10.240.0.0/24', endpointEnv(hanging, { NSM_REQUEST_TIMEOUT: '1500ms' }));
  const r = await mesh.init(0, c1, 'c1', 'router-hang', { NSM_INIT_TIMEOUT: '4s' });
  t.equal(r.code, 1, 'init fails, on its own before the test\'s limit');
  t.match(r.output, /hook .*hanging-hook\.sh apply ran past 1\.5s \(NSM_REQUEST_TIMEOUT\) and was killed; its last words: waiting for the router's management API/, 'naming the timeout and quoting the hook');
  const started = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
  t.ok(started.length >= 2, `the hook ran (pids ${started})`);
  await waitFor('every hook process and its children to end', () => started.every(gone), 5000);
  t.pass('the hook and the sleep it started were killed');
  t.same(nsmLinks(c1), [], 'no interface in the client pod');
  t.same(extraLinks(mesh.nodes[0].netns), [], 'nothing on the node');
});

t.test('an endpoint standing for a device may not point a client\'s tunnel at a node of the mesh, nor outside the device ranges', { skip, timeout: 120_000 }, async (t) => {
  const { p, mesh } = await deviceMesh(t, 'exz', '10.250.214');
  const [a, b] = mesh.nodes;
  const evil = addNetns(t, `${p}-evil`);
  const socket = join(mesh.dir, 'evil.sock');
  const own = statSync(`/run/netns/${evil}`);
  const attempt = (dstIp: string) => fromNamespace(t, evil, {
    forwarder: `unix://${a.socket}`,
    serve: { socket, answer: vxlanMechanism({ srcIp: a.ip, dstIp, srcPort: 4789, dstPort: 4789, vni: 77 }) },
    calls: [
      { kind: 'registerService', ns: RegistryNetworkService.toJSON({ name: 'evil-svc', payload: 'ETHERNET', matches: [], pathIds: [] }) },
      {
        kind: 'registerEndpoint',
        nse: NetworkServiceEndpoint.toJSON(NetworkServiceEndpoint.fromPartial({ name: 'evil-ep', networkServiceNames: ['evil-svc'], networkServiceLabels: { 'evil-svc': { labels: { [EXTERNAL_DEVICE_LABEL]: 'true' } } }, url: `unix://${socket}` })),
      },
      {
        kind: 'request',
        request: {
          connection: Connection.toJSON(Connection.fromPartial({ id: 'evil-1', networkService: 'evil-svc', path: { index: 0, pathSegments: [{ name: 'evil', id: 'evil-1' }] } })),
          mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: `inode://${own.dev}/${own.ino}` })],
        },
      },
    ],
    cleanUp: true,
  });
  const self = await attempt(a.ip);
  t.same(self.slice(0, 2).map((x) => x.code), ['OK', 'OK'], 'a pod may register an endpoint that stands for a device');
  t.equal(self[2].code, 'PERMISSION_DENIED', self[2].message);
  t.match(self[2].message, new RegExp(`endpoint evil-ep: it points the tunnel at ${a.ip.replaceAll('.', '\\.')}, a node of the mesh`), 'not at a node of the mesh');
  // node2 runs no endpoint, so node1 does not know it as a node: the device ranges keep the tunnel out of it.
  const other = await attempt(b.ip);
  t.equal(other[2].code, 'PERMISSION_DENIED', other[2].message);
  t.match(other[2].message, new RegExp(`it points the tunnel at ${b.ip.replaceAll('.', '\\.')}, outside the addresses this node lets tunnels point at \\(NSM_EXTERNAL_DEVICE_CIDRS=192\\.0\\.2\\.0/24\\)`), 'nor outside the device ranges');
  t.same(nsmLinks(evil), [], 'no tunnel in the caller');
  t.same(extraLinks(a.netns), [], 'nothing on the node');
});
