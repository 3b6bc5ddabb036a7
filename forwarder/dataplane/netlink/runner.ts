import type { Logger } from '../../../sdk/log.ts';
import { IpBackend } from '../ip/session.ts';
import { BatchRunner } from '../runner.ts';
import { NetlinkBackend } from './session.ts';
import { NetlinkThread } from './thread.ts';

/**
 * The forwarder's kernel runner: ops go over netlink from one thread, deletions and GRE through
 * `ip` (see NetlinkBackend). Where the thread cannot open a netlink socket (the FFI library does
 * not load on this platform, say), every op goes through `ip`, and the log says why.
 */
export async function kernelRunner(log: Logger): Promise<BatchRunner> {
  const thread = new NetlinkThread();
  const [probe] = await thread.run(0, '', [[]]);
  thread.end(0);
  if (probe.kind === 'done') return new BatchRunner({ backend: new NetlinkBackend(thread) });
  await thread.close();
  log.warn({ reason: probe.words }, 'netlink is not available: every kernel change goes through ip processes, a process per namespace');
  return new BatchRunner({ backend: new IpBackend() });
}
