import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { poolEndpointName } from '../forwarder/device-pools/registration.ts';
import { NsmError, toNsmError } from '../sdk/errors.ts';
import { extendedResourceProblem } from '../sdk/k8s/extended-resource.ts';
import { runIpSync } from '../sdk/ip-command.ts';
import { NETNS_PREFIX, paths, type SandboxNode, type SandboxPool } from './state.ts';
import { freeSubnet } from './topology.ts';
import { admitThrough } from './kubelet/control.ts';
import type { Container, Pod } from './workload.ts';

/** `--pool <resource>=<count>`, as `nsm sandbox up` takes it. */
export interface PoolSpec {
  resource: string;
  count: number;
}

const MAX_MEMBERS = 16;

export function parsePoolSpec(value: string | undefined): PoolSpec {
  const m = /^([^=]+)=(\d+)$/.exec(value ?? '');
  if (!m) throw new NsmError('INVALID_ARGUMENT', `--pool ${JSON.stringify(value ?? '')}: write it <resource>=<devices per node>, e.g. --pool nsm.example.com/radio=2`);
  const why = extendedResourceProblem(m[1]);
  if (why) throw new NsmError('INVALID_ARGUMENT', `--pool ${value}: ${why}`);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_MEMBERS) throw new NsmError('INVALID_ARGUMENT', `--pool ${value}: give from 1 to ${MAX_MEMBERS} devices per node`);
  return { resource: m[1], count };
}

function ip(args: string[]): void {
  const r = runIpSync(args);
  if (!r.ok) throw new NsmError('INTERNAL', `ip ${args.join(' ')}: ${r.stderr.trim() || 'failed'}`);
}

/** The pool's short name: its service, and the stem of its members' names. */
const stemOf = (resource: string) => (resource.split('/')[1] ?? '').toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || 'pool';

/**
 * Builds the node's pools as a host would have them: per pool, veth ends `<stem>0..` in the node's
 * namespace, their peers ports of a bridge in the namespace `<prefix><node>-net` (the network
 * behind the pool, its gateway `.254` of a /24 of its own), and the forwarder's pool file.
 * `taken` holds the /24s given out already (each pool of each node gets its own).
 */
export function buildNodePools(node: SandboxNode, specs: readonly PoolSpec[], taken: string[]): SandboxPool[] {
  if (specs.length === 0) return [];
  const behind = `${NETNS_PREFIX}${node.name}-net`;
  ip(['netns', 'add', behind]);
  const pools = specs.map((spec, j): SandboxPool => {
    const subnet = freeSubnet(undefined, '10.251', taken);
    taken.push(subnet);
    const bridge = `brpool${j}`;
    ip(['-n', behind, 'link', 'add', bridge, 'type', 'bridge']);
    ip(['-n', behind, 'addr', 'add', `${subnet}.254/24`, 'dev', bridge]);
    ip(['-n', behind, 'link', 'set', bridge, 'up']);
    const stem = stemOf(spec.resource);
    const devices = Array.from({ length: spec.count }, (_, k) => (j === 0 ? `${stem}${k}` : `${stem.slice(0, 6)}${j}-${k}`));
    devices.forEach((d, k) => {
      const peer = `pool${j}n${k}`;
      ip(['-n', node.netns, 'link', 'add', d, 'type', 'veth', 'peer', 'name', peer, 'netns', behind]);
      ip(['-n', behind, 'link', 'set', peer, 'master', bridge, 'up']);
    });
    return {
      resource: spec.resource, service: stem, node: node.name, devices, cidr: `${subnet}.0/24`, gateway: `${subnet}.254`,
      endpoint: poolEndpointName(`${NETNS_PREFIX}${node.name}`, spec.resource),
    };
  });
  mkdirSync(dirname(paths.devicePools(node.name)), { recursive: true });
  writeFileSync(paths.devicePools(node.name), stringify({
    pools: pools.map((p) => ({ resource: p.resource, service: p.service, devices: p.devices, cidrPrefix: p.cidr, excludePrefixes: [`${p.gateway}/32`] })),
  }));
  return pools;
}

/** The forwarder's settings for the node's pools (none without pools). */
export function poolEnv(node: string, pools: readonly SandboxPool[]): Record<string, string> {
  if (!pools.some((p) => p.node === node)) return {};
  return {
    NSM_DEVICE_POOLS: paths.devicePools(node),
    NSM_DEVICE_PLUGIN_PATH: join(paths.kubelet(node), 'device-plugins'),
    NSM_POD_RESOURCES_PATH: join(paths.kubelet(node), 'pod-resources'),
    NSM_RESOURCE_POLL_TIMEOUT: '2s',
  };
}

export const kubeletControl = (node: string) => join(paths.kubelet(node), 'control.sock');

/**
 * What the node's kubelet gives a container whose resources.limits name device pools: the env of
 * their Allocate (the tokens), or the kubelet's refusal (no free healthy device) naming the pod.
 * Limits of other resources (cpu, memory) are none of the sandbox's business.
 */
export async function deviceEnv(state: { pools?: SandboxPool[] }, pod: Pod, container: Container, node: string): Promise<Record<string, string>> {
  const name = pod.metadata.name;
  const limits = container.resources?.limits ?? {};
  const extended = Object.keys(limits).filter((r) => r.includes('/'));
  if (extended.length === 0) return {};
  const offered = new Set((state.pools ?? []).filter((p) => p.node === node).map((p) => p.resource));
  const unknown = extended.find((r) => !offered.has(r));
  if (unknown) {
    throw new NsmError('FAILED_PRECONDITION', `pod ${name}: container ${container.name} asks for ${unknown}, which no device pool of ${node} offers (${[...offered].join(', ') || 'none'}): start the sandbox with nsm sandbox up --pool ${unknown}=2`);
  }
  const resources = Object.fromEntries(extended.map((r) => [r, Number(limits[r])]));
  try {
    return await admitThrough(kubeletControl(node), { pod: name, namespace: pod.metadata.namespace ?? 'default', container: container.name, resources });
  } catch (err) {
    const e = toNsmError(err);
    throw new NsmError(e.code, `pod ${name} cannot start on ${node}: ${e.message}`);
  }
}
