import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { duration } from '../../sdk/config/index.ts';
import { NsmError } from '../../sdk/errors.ts';
import { parseAddress } from '../../sdk/grpc/address.ts';
import { NetworkServiceClient } from '../../sdk/grpc/networkservice-client.ts';
import { clientApiAddress, DEFAULT_CLIENT_API } from './env.ts';

/** What the commands an application of the pod runs against the sidecar's client API need. */
export const clientApiEnv = {
  NSM_CLIENT_API: clientApiAddress(DEFAULT_CLIENT_API, 'the sidecar\'s client API socket (the webhook sets it in the sidecar; the same path in the pod\'s other containers)'),
  NSM_REQUEST_TIMEOUT: duration('15s', 'how long to wait for the sidecar\'s answer'),
};

/**
 * A client of the sidecar's API. A sidecar that is starting has no socket yet: it is waited for
 * up to NSM_REQUEST_TIMEOUT, then the error says where it was looked for.
 */
export async function dialClientApi(config: { NSM_CLIENT_API: string; NSM_REQUEST_TIMEOUT: number }): Promise<NetworkServiceClient> {
  const address = config.NSM_CLIENT_API;
  if (address === '') throw new NsmError('INVALID_ARGUMENT', 'NSM_CLIENT_API is empty: set it to the sidecar\'s client API socket, e.g. unix:///var/run/nsm/nsc.sock');
  const target = parseAddress(address);
  const until = Date.now() + config.NSM_REQUEST_TIMEOUT;
  if (target.kind === 'unix') {
    while (!existsSync(target.path) && Date.now() < until) await sleep(100);
    if (!existsSync(target.path)) {
      throw new NsmError('UNAVAILABLE', `no sidecar client API at ${target.path} within ${config.NSM_REQUEST_TIMEOUT} ms: run this in a container of a pod the webhook injected (the sidecar serves it there), or set NSM_CLIENT_API to its socket`);
    }
  }
  // One budget for both waits: the socket's file, then the sidecar answering on it.
  return NetworkServiceClient.dial(address, { dialTimeoutMs: Math.max(1000, until - Date.now()) });
}
