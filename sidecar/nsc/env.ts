import { address, duration, logLevel, str } from '../../sdk/config/index.ts';
import type { Var } from '../../sdk/config/types.ts';
import { parseAddress } from '../../sdk/grpc/address.ts';

export const DEFAULT_FORWARDER_SOCKET = 'unix:///var/lib/networkservicemesh/nsm.io.sock';
export const DEFAULT_CLIENT_API = 'unix:///var/run/nsm/nsc.sock';

/** A unix socket address, or '' for none: the client API is for the pod's own processes, never the network. */
export const clientApiAddress = (def: string, description: string): Var<string> =>
  str(def, description, (s) => {
    if (s && parseAddress(s).kind !== 'unix') throw new Error('the client API is served on a unix socket in a volume of the pod; expected unix:///var/run/nsm/nsc.sock');
  });

/** Shared by `nsm nsc init` and `nsm nsc run`, with upstream names and meanings. */
export const nscEnv = {
  NSM_NAME: str('', 'client name; connection ids are <NSM_NAME>-<i> (defaults to the host name)'),
  NSM_NETWORK_SERVICES: str('', 'comma-separated NS URLs, e.g. kernel://my-service/nsm-1'),
  NSM_CONNECT_TO: address(DEFAULT_FORWARDER_SOCKET, 'forwarder socket to send requests to'),
  NSM_REQUEST_TIMEOUT: duration('15s', 'timeout of one Request attempt'),
  NSM_DIAL_TIMEOUT: duration('5s', 'timeout for reaching the forwarder'),
  NSM_INIT_TIMEOUT: duration('5m', 'nsc init gives up after this long and names each failed service'),
  NSM_CONNECTIONS_DIR: str('/var/run/nsm/connections', 'where each established connection is written as <ifname>.json'),
  NSM_LOG_LEVEL: logLevel(),
};
