import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Connection } from '../proto/api.ts';
import type { Say } from './lifecycle.ts';
import { alive, loadState, paths, type State } from './state.ts';

export interface Row {
  pod: string;
  node: string;
  netns: string;
  ifname: string;
  address: string;
  peer: string;
  mechanism: string;
  endpoint: string;
  service: string;
  /** The endpoint's bridge, for a connection to a bridge endpoint (its clients reach each other). */
  bridge: string;
  /** The pods on the connection's path, in order (the client, then each function of a chain, then the last endpoint). */
  chain: string[];
}

/** The address a client pings: its peer's, or for a pool's device (no peer address) the gateway of the network behind the pool. */
function peerOf(state: State, c: Connection): string {
  return c.context?.ipContext?.dstIpAddrs.join(',') || (state.pools?.find((p) => p.endpoint === c.networkServiceEndpointName)?.gateway ?? '');
}

export function connections(state: State): Row[] {
  const rows: Row[] = [];
  const pods = new Set(state.pods.map((p) => p.name));
  for (const pod of state.pods) {
    const dir = pod.connectionsDir ?? join(paths.pod(pod.name), 'connections');
    for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : []) {
      const c = Connection.fromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      rows.push({
        pod: pod.name, node: pod.node ?? '', netns: pod.netns, ifname: file.slice(0, -5),
        address: c.context?.ipContext?.srcIpAddrs.join(',') ?? '', peer: peerOf(state, c),
        mechanism: c.context?.extraContext.tunnel ?? c.mechanism?.type ?? '', endpoint: c.networkServiceEndpointName,
        service: c.networkService, bridge: c.context?.extraContext.bridge ?? '',
        chain: (c.path?.pathSegments ?? []).map((seg) => seg.name).filter((n) => pods.has(n)),
      });
    }
  }
  return rows;
}

export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

export function status(say: Say): State | undefined {
  const state = loadState();
  if (!state) {
    say('the sandbox is not up');
    return undefined;
  }
  const nodeOfPod = new Map(state.pods.map((p) => [p.name, p.node ?? '']));
  say(table(['PROCESS', 'NODE', 'POD', 'CONTAINER', 'STATE'], state.procs.map((p) => [String(p.pid), nodeOfPod.get(p.pod) ?? p.pod, p.pod, p.container, alive(p) ? 'running' : 'exited'])));
  say('');
  const nodeOf = new Map(state.pods.map((p) => [p.name, p.node ?? '']));
  say(table(['POD', 'NODE', 'INTERFACE', 'ADDRESS', 'ENDPOINT ADDRESS', 'MECHANISM', 'ENDPOINT', 'ENDPOINT NODE'],
    connections(state).map((r) => [r.pod, r.node, r.ifname, r.address, r.peer, r.mechanism, r.endpoint, nodeOf.get(r.endpoint) ?? ''])));
  const chains = connections(state).filter((r) => r.chain.length > 2);
  if (chains.length > 0) {
    say('');
    say('service chains, from each connection\'s path:');
    say(table(['POD', 'SERVICE', 'CHAIN'], chains.map((r) => [r.pod, r.service, r.chain.join(' -> ')])));
  }
  if ((state.devices ?? []).length > 0) {
    say('');
    say(table(['DEVICE', 'UNDERLAY', 'INTERFACE', 'TUNNEL', 'VNI/KEY', 'REMOTE', 'ADDRESS'], deviceRows(state)));
  }
  return state;
}

interface DeviceLink {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; remote?: string; ikey?: string } };
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

/** The tunnels on each device outside the cluster: what its hook configured. */
export function deviceRows(state: State): string[][] {
  return (state.devices ?? []).flatMap((d) => {
    const r = spawnSync('ip', ['-n', d.netns, '-j', '-d', 'addr', 'show'], { encoding: 'utf8', timeout: 5000 });
    const tunnels = (r.status === 0 ? JSON.parse(r.stdout) as DeviceLink[] : []).filter((l) => ['vxlan', 'gre', 'gretap'].includes(l.linkinfo?.info_kind ?? ''));
    if (tunnels.length === 0) return [[d.name, d.ip, '-', '-', '-', '-', '-']];
    return tunnels.map((l) => {
      const info = l.linkinfo!.info_data ?? {};
      const addresses = (l.addr_info ?? []).filter((a) => a.family === 'inet' || (a.family === 'inet6' && !a.local.startsWith('fe80:'))).map((a) => `${a.local}/${a.prefixlen}`).join(',');
      return [d.name, d.ip, l.ifname, l.linkinfo!.info_kind!.toUpperCase(), String(info.id ?? info.ikey ?? '-'), info.remote ?? '-', addresses || '-'];
    });
  });
}

export function pingMatrix(state: State): string[][] {
  return connections(state).map((r) => {
    const to = r.peer.split(',')[0]?.split('/')[0] ?? '';
    const res = ping(r.netns, r.ifname, to, ['-c', '3', '-W', '1']);
    const loss = /(\d+(?:\.\d+)?)% packet loss/.exec(res.stdout)?.[1] ?? '100';
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(res.stdout)?.[1];
    return [r.pod, r.node, r.mechanism, `${r.ifname} -> ${to}`, res.ok ? 'ok' : 'FAIL', `${loss}% loss`, rtt ? `${rtt} ms` : '-'];
  });
}

/** `ping` from `netns` over `ifname`; `limit` is its own options (a count, or a deadline). */
function ping(netns: string, ifname: string, to: string, limit: string[]) {
  const res = spawnSync('ip', ['netns', 'exec', netns, 'ping', ...limit, '-i', '0.2', '-I', ifname, to], { encoding: 'utf8', timeout: 10_000 });
  return { ok: res.status === 0, stdout: res.stdout };
}

/** Until the first reply, for at most 3 s: a domain's links may still be joining, and the first packet waits for ARP. */
const FIRST_REPLY = ['-c', '1', '-w', '3'];

/** Each client of a bridge service pings every other client of the same service (a bridge, or a domain of bridges). */
export function bridgeMatrix(state: State): string[][] {
  const l2 = connections(state).filter((r) => r.bridge !== '');
  return l2.flatMap((a) => l2.filter((b) => b !== a && b.service === a.service).map((b) => {
    const to = b.address.split('/')[0];
    return [a.service, a.pod, a.node, b.pod, b.node, to, ping(a.netns, a.ifname, to, FIRST_REPLY).ok ? 'ok' : 'FAIL'];
  }));
}
