import type { Logger } from '../../../sdk/log.ts';
import { IpBatchRunner } from '../runner.ts';
import { NetlinkSession } from './session.ts';
import { NetlinkThread } from './thread.ts';

/**
 * The forwarder's kernel runner: the lines of veth connections go over netlink from one thread,
 * everything else through `ip` (see NetlinkSession). Where the thread cannot open a netlink socket
 * (the FFI library does not load on this platform, say), every line goes through `ip`, and the
 * log says why.
 */
export async function kernelRunner(log: Logger): Promise<IpBatchRunner> {
  const thread = new NetlinkThread();
  const [probe] = await thread.run(0, '', [[]]);
  thread.end(0);
  if (probe.kind === 'done') return new IpBatchRunner({ session: (path) => new NetlinkSession(path, thread) });
  await thread.close();
  log.warn({ reason: 'message' in probe ? probe.message : probe.kind }, 'netlink is not available: every kernel change goes through ip processes, a process per namespace');
  return new IpBatchRunner();
}
