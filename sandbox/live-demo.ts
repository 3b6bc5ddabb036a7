import { setTimeout as sleep } from 'node:timers/promises';
import { annotate, exec } from './pod-commands.ts';
import { connections } from './report.ts';
import { loadState } from './state.ts';

const POD = 'live-client';
const WAIT_MS = 10_000;

/**
 * The live part of examples/live-connections: the client's annotation gains a service (as
 * `kubectl annotate` would change it), and an application in the pod asks its sidecar for another
 * through the client API; both interfaces appear while the pod runs.
 */
export async function liveDemo(say: (line: string) => void): Promise<void> {
  const before = connections(loadState()!).filter((r) => r.pod === POD).length;
  say(`$ nsm sandbox annotate ${POD} networkservicemesh.io=kernel://live-a/nsm-1,kernel://live-b/nsm-2 --overwrite`);
  annotate([POD, 'networkservicemesh.io=kernel://live-a/nsm-1,kernel://live-b/nsm-2', '--overwrite'], say);
  say(`$ nsm sandbox exec ${POD} -- nsm nsc request kernel://live-c/app-1`);
  exec([POD, '--', 'nsm', 'nsc', 'request', 'kernel://live-c/app-1']);
  const until = Date.now() + WAIT_MS;
  while (connections(loadState()!).filter((r) => r.pod === POD).length < before + 2 && Date.now() < until) await sleep(100);
}
