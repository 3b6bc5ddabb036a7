import { readdirSync, readFileSync, statSync } from 'node:fs';
import { IP, missingTool } from '../sdk/host-tools.ts';
import { peerCredentialsUnavailable } from '../sdk/unix-peer.ts';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

function effectiveCaps(): bigint {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.split(':')[1].trim()}`) : 0n;
}

/** What stops the forwarder from working on this host, each with what to run instead; empty when fine. */
export function startupProblems(path = process.env.PATH ?? ''): string[] {
  const problems: string[] = [];
  if (process.platform !== 'linux') return ['the forwarder programs the Linux kernel and runs only on Linux'];
  if (process.getuid?.() !== 0) problems.push('not running as root: run it as root (sudo nsm forwarder), or in Kubernetes as a privileged DaemonSet pod');
  const caps = effectiveCaps();
  if (!(caps & (1n << BigInt(CAP_NET_ADMIN)))) problems.push('missing CAP_NET_ADMIN: run as root or give the container securityContext.privileged: true');
  if (!(caps & (1n << BigInt(CAP_SYS_ADMIN)))) problems.push('missing CAP_SYS_ADMIN (needed to enter pod network namespaces): give the container securityContext.privileged: true');
  const tool = missingTool('the forwarder', [IP], path);
  if (tool) problems.push(tool);
  if (!seesHostPids()) problems.push('this process does not see the host\'s processes, so pod network namespaces cannot be found: set hostPID: true on the forwarder pod');
  else if (!readsOtherNamespaces()) problems.push('cannot read /proc/<pid>/ns/net of other processes: run the forwarder as root with securityContext.privileged: true');
  const noCredentials = peerCredentialsUnavailable();
  if (noCredentials) problems.push(`cannot read the kernel's credentials of callers (SO_PEERCRED), so callers cannot be told apart: ${noCredentials}`);
  return problems;
}

/** In the host's PID namespace the kernel's thread daemon is visible as pid 2. */
function seesHostPids(): boolean {
  try {
    return readFileSync('/proc/2/comm', 'utf8').trim() === 'kthreadd';
  } catch {
    return false;
  }
}

function readsOtherNamespaces(): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      statSync(`/proc/${pid}/ns/net`);
      return true;
    } catch {
      // kernel threads and protected processes have none we may read
    }
  }
  return false;
}

/** One problem is one line; several are listed one a line. */
export function describeProblems(problems: readonly string[]): string {
  return problems.length === 1 ? `cannot start: ${problems[0]}` : `cannot start:\n  - ${problems.join('\n  - ')}`;
}
