import { address, labels, list, logLevel, oneOf, str } from '../../sdk/config/index.ts';
import { defineCommand, notImplemented } from '../../sdk/cli.ts';

export default defineCommand({
  summary: 'network service endpoint sidecar (point-to-point IPAM)',
  env: {
    NSM_NAME: str('', 'endpoint name (defaults to the host name)'),
    NSM_SERVICE_NAMES: list('', 'network services this endpoint provides, comma-separated'),
    NSM_LABELS: labels('', 'endpoint labels, k=v,...'),
    NSM_CIDR_PREFIX: str('169.254.0.0/16', 'address pool; each connection gets a pair of addresses from it'),
    NSM_PAYLOAD: oneOf('ETHERNET', ['ETHERNET', 'IP'], 'payload of the services'),
    NSM_CONNECT_TO: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'forwarder socket to register through'),
    NSM_LISTEN_ON: address('unix:///var/lib/networkservicemesh/endpoints/nse.sock', 'this endpoint\'s own socket, reachable by the forwarder'),
    NSM_LOG_LEVEL: logLevel(),
  },
  run: async () => notImplemented('nse'),
});
