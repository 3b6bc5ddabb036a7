import { hostname } from 'node:os';
import { address, bool, duration, labels, list, logLevel, oneOf, str } from '../../sdk/config/index.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { NsmError } from '../../sdk/errors.ts';
import { parseAddress } from '../../sdk/grpc/address.ts';
import { createLogger } from '../../sdk/log.ts';
import { PointToPointPool } from './point-to-point-pool.ts';
import { startEndpoint } from './endpoint.ts';

const memifSocketCheck = (s: string) => {
  if (s !== '' && !s.startsWith('/')) throw new Error('expected an absolute path such as /var/lib/networkservicemesh/memif-endpoints/my-nse/memif.sock');
};

const ENDPOINTS_DIR = '/var/lib/networkservicemesh/endpoints';

export default defineCommand({
  summary: 'network service endpoint sidecar (point-to-point IPAM)',
  env: {
    NSM_NAME: str('', 'endpoint name (defaults to the host name)'),
    NSM_SERVICE_NAMES: list('', 'network services this endpoint provides, comma-separated'),
    NSM_LABELS: labels('', 'endpoint labels, k=v,...'),
    NSM_CIDR_PREFIX: str('169.254.0.0/16', 'address pool; each connection gets a pair of addresses from it', (s) => void new PointToPointPool(s)),
    NSM_PAYLOAD: oneOf('ETHERNET', ['ETHERNET', 'IP'], 'payload of the services'),
    NSM_REGISTER_SERVICE: bool(true, 'also register the NetworkServices (name and payload); false when they are applied as objects'),
    NSM_CONNECT_TO: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'forwarder socket to register through'),
    NSM_LISTEN_ON: str('', `this endpoint's own socket, reachable by the forwarder (default unix://${ENDPOINTS_DIR}/<NSM_NAME>.sock)`, (s) => void (s && parseAddress(s))),
    NSM_MAX_TOKEN_LIFETIME: duration('10m', 'how long a connection lives without a refresh'),
    NSM_DIAL_TIMEOUT: duration('5s', 'timeout for reaching the forwarder'),
    NSM_MEMIF_SOCKET: str('', 'filesystem socket the endpoint application listens on as memif server (in the shared socket directory); empty = no memif', memifSocketCheck),
    NSM_LOG_LEVEL: logLevel(),
  },
  async run(config) {
    if (config.NSM_SERVICE_NAMES.length === 0) throw new NsmError('INVALID_ARGUMENT', 'NSM_SERVICE_NAMES: name at least one network service this endpoint provides');
    const name = config.NSM_NAME || hostname();
    const log = createLogger(`nse/${name}`, config.NSM_LOG_LEVEL);
    const endpoint = await startEndpoint({
      name,
      services: config.NSM_SERVICE_NAMES,
      labels: config.NSM_LABELS,
      payload: config.NSM_PAYLOAD,
      registerServices: config.NSM_REGISTER_SERVICE,
      cidr: config.NSM_CIDR_PREFIX,
      connectTo: config.NSM_CONNECT_TO,
      listenOn: config.NSM_LISTEN_ON || `unix://${ENDPOINTS_DIR}/${name}.sock`,
      connectionLifetimeMs: config.NSM_MAX_TOKEN_LIFETIME,
      dialTimeoutMs: config.NSM_DIAL_TIMEOUT,
      log,
      memifSocket: config.NSM_MEMIF_SOCKET || undefined,
    });
    void endpoint.registered.then(() => log.info({ services: config.NSM_SERVICE_NAMES, pool: endpoint.pool.cidr }, 'endpoint registered'));
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await endpoint.stop();
    log.info('endpoint unregistered and stopped');
    return 0;
  },
});
