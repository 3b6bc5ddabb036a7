import { duration } from '../../sdk/config/index.ts';
import { clientApiAddress, DEFAULT_CLIENT_API } from './env.ts';

/** What the commands an application of the pod runs against the sidecar's client API need. */
export const clientApiEnv = {
  NSM_CLIENT_API: clientApiAddress(DEFAULT_CLIENT_API, 'the sidecar\'s client API socket (the webhook sets it in the sidecar; the same path in the pod\'s other containers)'),
  NSM_REQUEST_TIMEOUT: duration('15s', 'how long to wait for the sidecar\'s answer'),
};
