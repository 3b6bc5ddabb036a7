import { hostname } from 'node:os';
import { address, bool, duration, int, list, logLevel, metricsAddress, str } from '../sdk/config/index.ts';
import { defineCommand } from '../sdk/cli.ts';
import { NsmError } from '../sdk/errors.ts';
import { createLogger } from '../sdk/log.ts';
import { parseAddress } from '../sdk/grpc/address.ts';
import { VXLAN_DEFAULT_PORT } from '../proto/mechanisms.ts';
import { DEFAULT_MEMIF_DIR } from './dataplane/memif-rendezvous.ts';
import { loadPoolFile } from './device-pools/config.ts';
import { kernelRunner } from './dataplane/netlink/runner.ts';
import { held } from './held.ts';
import { openRegistry } from './registry.ts';
import { peeringFromEnv } from './remote/config.ts';
import { startForwarder } from './server.ts';
import { describeProblems, startupProblems } from './startup-checks.ts';
import { stopSignal } from '../sdk/stop-signal.ts';

export default defineCommand({
  summary: 'node agent: negotiates connections and programs the kernel (root, hostPID)',
  env: {
    NSM_NAME: str('', 'forwarder name, normally the node name (defaults to the host name)'),
    NSM_LISTEN_ON: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'socket for clients and endpoints on this node'),
    NSM_REGISTRY_DIR: str('', 'use a local directory as the registry (sandbox); empty = Kubernetes CRDs'),
    NSM_NAMESPACE: str('', 'namespace of the registry objects (default: this pod\'s namespace, else default)'),
    NSM_PEER_LISTEN_ON: str('tcp://:5001', 'address other forwarders reach this one on; empty = single node, no tunnels', (s) => { if (s) parseAddress(s); }),
    NSM_TLS_CA_FILE: str('', 'CA bundle a peer forwarder\'s certificate must chain to (mutual TLS)'),
    NSM_TLS_CERT_FILE: str('', 'this forwarder\'s certificate for peering (server and client)'),
    NSM_TLS_KEY_FILE: str('', 'private key of NSM_TLS_CERT_FILE'),
    NSM_INSECURE: bool(false, 'peer without TLS (plaintext, any caller accepted): for trusted test networks only'),
    NSM_TUNNEL_IP: str('', 'underlay address tunnels start from (default: first global address of the default-route interface)'),
    NSM_MECHANISM_PRIORITY: list('VXLAN,GRE', 'tunnel types in order of preference, comma-separated'),
    NSM_VXLAN_PORT: int(VXLAN_DEFAULT_PORT, 'UDP port of VXLAN tunnels', 1, 65535),
    NSM_EXTERNAL_DEVICE_CIDRS: list('', 'addresses endpoints of external devices may point clients\' tunnels at, comma-separated CIDRs; empty = any but the mesh\'s nodes'),
    NSM_MAX_TOKEN_LIFETIME: duration('10m', 'how long a connection lives without a refresh from its client'),
    NSM_EXPIRE_PERIOD: duration('1m', 'how long an endpoint registration lives without a refresh'),
    NSM_DIAL_TIMEOUT: duration('750ms', 'timeout for reaching an endpoint'),
    NSM_REQUEST_TIMEOUT: duration('15s', 'timeout of a call to an endpoint when the caller set none'),
    NSM_MEMIF_DIR: str(DEFAULT_MEMIF_DIR, 'where clients are handed links to endpoints\' memif sockets; same filesystem as the endpoints\' sockets'),
    NSM_METRICS_LISTEN_ON: metricsAddress('plain-HTTP address of GET /metrics (Prometheus), e.g. :9091; empty = no metrics'),
    NSM_DEVICE_POOLS: str('', 'YAML file of host device pools handed out through the kubelet\'s device-plugin API; empty = no pools'),
    NSM_DEVICE_PLUGIN_PATH: str('/var/lib/kubelet/device-plugins/', 'the kubelet\'s device plugin directory (kubelet.sock), where each pool serves its socket'),
    NSM_POD_RESOURCES_PATH: str('/var/lib/kubelet/pod-resources/', 'directory of the kubelet\'s PodResources socket, asked which pool tokens pods hold'),
    NSM_RESOURCE_POLL_TIMEOUT: duration('30s', 'device pools: how often pool devices, PodResources and the kubelet\'s sockets are looked at'),
    NSM_LOG_LEVEL: logLevel(),
  },
  async run(config) {
    const stopped = stopSignal();
    const problems = startupProblems();
    if (parseAddress(config.NSM_LISTEN_ON).kind !== 'unix') problems.push(`NSM_LISTEN_ON=${config.NSM_LISTEN_ON} is not a unix socket: the forwarder identifies the pods that call it by the kernel's peer credentials, which only a unix socket carries`);
    if (problems.length > 0) throw new NsmError('FAILED_PRECONDITION', describeProblems(problems));
    const pools = loadPoolFile(config.NSM_DEVICE_POOLS);
    if (pools.length > 0 && config.NSM_RESOURCE_POLL_TIMEOUT < 50) throw new NsmError('INVALID_ARGUMENT', `NSM_RESOURCE_POLL_TIMEOUT=${config.NSM_RESOURCE_POLL_TIMEOUT}ms: the pools would look at their devices without pause; give at least 50ms`);
    const name = config.NSM_NAME || hostname();
    const log = createLogger(`forwarder/${name}`, config.NSM_LOG_LEVEL);
    const peering = await peeringFromEnv(config, log);
    const { backend: registry, where } = await openRegistry(config.NSM_REGISTRY_DIR, config.NSM_NAMESPACE, log);
    const forwarder = await startForwarder({
      name,
      listenOn: config.NSM_LISTEN_ON,
      registry,
      runner: await kernelRunner(log),
      log,
      connectionLifetimeMs: config.NSM_MAX_TOKEN_LIFETIME,
      registrationLifetimeMs: config.NSM_EXPIRE_PERIOD,
      dialTimeoutMs: config.NSM_DIAL_TIMEOUT,
      requestTimeoutMs: config.NSM_REQUEST_TIMEOUT,
      peering,
      memifDir: config.NSM_MEMIF_DIR,
      metricsListenOn: config.NSM_METRICS_LISTEN_ON || undefined,
      devicePools: {
        pools, source: config.NSM_DEVICE_POOLS, pluginDir: config.NSM_DEVICE_PLUGIN_PATH, podResourcesDir: config.NSM_POD_RESOURCES_PATH, pollMs: config.NSM_RESOURCE_POLL_TIMEOUT,
      },
    }).catch(async (err: unknown) => {
      // What was opened must not keep a forwarder that cannot start alive.
      await registry.close();
      throw err;
    });
    log.info({ listenOn: config.NSM_LISTEN_ON, registry: where, peerUrl: forwarder.peering?.url, tunnels: forwarder.peering?.supported.map((m) => m.type), metricsPort: forwarder.metrics?.port }, 'forwarder ready');
    process.on('SIGUSR2', () => log.info({ held: held(forwarder) }, 'state held'));
    await stopped;
    // Connections stay in the kernel: a restarted forwarder adopts them.
    await forwarder.stop();
    await registry.close();
    log.info('forwarder stopped; connections left in place for the next forwarder');
    return 0;
  },
});
