import { address, bool, duration, labels, list, logLevel, metricsAddress, oneOf, str } from '../../sdk/config/index.ts';
import { parseAddress } from '../../sdk/grpc/address.ts';
import { ipv4Block } from '../../sdk/ip.ts';
import { ifnameProblem, nameProblem } from '../../proto/validate/fields.ts';
import { externalEnv } from './external/settings.ts';
import { MODE_NAMES } from './modes.ts';
import { PointToPointPool } from './p2p/point-to-point-pool.ts';

export const ENDPOINTS_DIR = '/var/lib/networkservicemesh/endpoints';

const memifSocketCheck = (s: string) => {
  if (s !== '' && !s.startsWith('/')) throw new Error('expected an absolute path such as /var/lib/networkservicemesh/memif-endpoints/my-nse/memif.sock');
};

const ifnameCheck = (s: string) => {
  const why = ifnameProblem(s);
  if (why) throw new Error(why);
};
const domainCheck = (s: string) => {
  const why = s === '' ? undefined : nameProblem('the domain name', s);
  if (why) throw new Error(why);
};

/** Every setting of `nsm nse`; the mode (NSM_MODE) says which of the mode-specific ones apply. */
export const nseEnv = {
  NSM_MODE: oneOf('p2p', MODE_NAMES, 'what the endpoint does with each connection: p2p = a point-to-point pair of addresses; bridge = a port of the endpoint\'s Linux bridge, one address on a shared subnet; external = a tunnel to a device outside the cluster, configured by a hook; passthrough = a function of a service chain: each connection is requested onward for the same service with NSM_LABELS, the two joined in the pod'),
  NSM_NAME: str('', 'endpoint name (defaults to the host name)'),
  NSM_SERVICE_NAMES: list('', 'network services this endpoint provides, comma-separated'),
  NSM_LABELS: labels('', 'endpoint labels, k=v,... (passthrough: also the labels of its onward requests, which the service\'s matches route by)'),
  NSM_CIDR_PREFIX: str('169.254.0.0/16', 'address pool (p2p: each connection gets a pair of addresses from it; external: a pair for client and device; bridge: the domain\'s subnet, each client gets one address with its length)', (s) => { new PointToPointPool(s); }),
  NSM_PAYLOAD: oneOf('ETHERNET', ['ETHERNET', 'IP'], 'payload of the services'),
  NSM_REGISTER_SERVICE: bool(true, 'also register the NetworkServices (name and payload); false when they are applied as objects'),
  NSM_CONNECT_TO: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'forwarder socket to register through'),
  NSM_LISTEN_ON: str('', `this endpoint's own socket, reachable by the forwarder (default unix://${ENDPOINTS_DIR}/<NSM_NAME>.sock)`, (s) => { if (s) parseAddress(s); }),
  NSM_MAX_TOKEN_LIFETIME: duration('10m', 'how long a connection lives without a refresh'),
  NSM_DIAL_TIMEOUT: duration('5s', 'timeout for reaching the forwarder'),
  NSM_MEMIF_SOCKET: str('', 'p2p: filesystem socket the endpoint application listens on as memif server (in the shared socket directory); empty = no memif', memifSocketCheck),
  NSM_METRICS_LISTEN_ON: metricsAddress('plain-HTTP address of GET /metrics (Prometheus), e.g. :9092; empty = no metrics'),
  NSM_BRIDGE_NAME: str('nsm-br', 'bridge: the Linux bridge in this pod that every connection becomes a port of (the endpoint needs NET_ADMIN in its pod)', ifnameCheck),
  NSM_IP_POOL: str('', 'bridge: the part of NSM_CIDR_PREFIX this endpoint hands out (a CIDR inside it; give each bridge of a domain its own); empty = all of it', (s) => { if (s) ipv4Block(s); }),
  NSM_BRIDGE_DOMAIN: str('', 'bridge: the L2 domain this bridge joins with every bridge of the same service and domain (a full mesh of links); empty = a bridge of its own', domainCheck),
  ...externalEnv,
  NSM_LOG_LEVEL: logLevel(),
};
