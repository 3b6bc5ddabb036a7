import { setTimeout as sleep } from 'node:timers/promises';
import { NsmError } from '../sdk/errors.ts';
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
  const code = exec([POD, '--', 'nsm', 'nsc', 'request', 'kernel://live-c/app-1']);
  if (code !== 0) throw new NsmError('UNAVAILABLE', `nsm nsc request in ${POD} exited ${code}: the application's request failed (its words are above)`);
  const until = Date.now() + WAIT_MS;
  const count = () => connections(loadState()!).filter((r) => r.pod === POD).length;
  while (count() < before + 2 && Date.now() < until) await sleep(100);
  if (count() < before + 2) throw new NsmError('DEADLINE_EXCEEDED', `${POD} has ${count()} connections ${WAIT_MS / 1000} s after the edit and the request, not ${before + 2}`);
}
