import type { IPContext } from '../../proto/api.ts';
import { ipContextOps } from '../dataplane/ipcontext.ts';
import { moveLink, renameLink, setLink } from '../dataplane/ops.ts';
import { NODE_NETNS, type KernelRunner, type Netns } from '../dataplane/runner.ts';
import { nodeNetnsFile } from './held-netns.ts';

/**
 * Moves `device` from the node's namespace into `pod`, renamed to `ifname` on the way (one
 * request: the kernel closes the device first, so any kernel renames it), then raises it there
 * with its MTU, addresses and routes. When the second step fails the device is moved back.
 */
export async function moveIntoPod(runner: KernelRunner, device: string, pod: Netns, ifname: string, mtu: number | undefined, ip: IPContext): Promise<void> {
  await runner.run(NODE_NETNS, [moveLink({ name: device, netns: pod.path, newName: ifname })]);
  try {
    await runner.run(pod, [setLink({ name: ifname, ...(mtu ? { mtu } : {}), up: true }), ...ipContextOps(ifname, ip, 'client')]);
  } catch (err) {
    await moveBack(runner, pod, ifname, device).catch(() => {});
    throw err;
  }
}

/**
 * Moves the device back to the node's namespace under its own name. It arrives down and without
 * addresses or routes: the kernel closes a device and drops them when it changes namespace.
 */
export async function moveBack(runner: KernelRunner, pod: Netns, ifname: string, device: string): Promise<void> {
  await runner.run(pod, [moveLink({ name: ifname, netns: nodeNetnsFile(), newName: device })]);
}

/** A device that came back to the node's namespace under another name (`dev<ifindex>`, or the name it had in a pod) gets its own again, down. */
export async function renameBack(runner: KernelRunner, current: string, device: string): Promise<void> {
  await runner.run(NODE_NETNS, [setLink({ name: current, up: false }), renameLink({ name: current, newName: device })]);
}
