import { hostname } from 'node:os';
import { address, duration, logLevel, str } from '../sdk/config/index.ts';
import { defineCommand } from '../sdk/cli.ts';
import { NsmError } from '../sdk/errors.ts';
import { createLogger } from '../sdk/log.ts';
import { openDirRegistry } from '../sdk/registry/dir-backend.ts';
import { DEFAULT_MEMIF_DIR } from './dataplane/memif-rendezvous.ts';
import { IpBatchRunner } from './dataplane/runner.ts';
import { startForwarder } from './server.ts';
import { startupProblems } from './startup-checks.ts';

export default defineCommand({
  summary: 'node agent: negotiates connections and programs the kernel (root, hostPID)',
  env: {
    NSM_NAME: str('', 'forwarder name, normally the node name (defaults to the host name)'),
    NSM_LISTEN_ON: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'socket for clients and endpoints on this node'),
    NSM_REGISTRY_DIR: str('', 'use a local directory as the registry (sandbox); empty = Kubernetes CRDs'),
    NSM_MAX_TOKEN_LIFETIME: duration('10m', 'how long a connection lives without a refresh from its client'),
    NSM_EXPIRE_PERIOD: duration('1m', 'how long an endpoint registration lives without a refresh'),
    NSM_DIAL_TIMEOUT: duration('750ms', 'timeout for reaching an endpoint'),
    NSM_REQUEST_TIMEOUT: duration('15s', 'timeout of a call to an endpoint when the caller set none'),
    NSM_MEMIF_DIR: str(DEFAULT_MEMIF_DIR, 'where clients are handed links to endpoints\' memif sockets; same filesystem as the endpoints\' sockets'),
    NSM_LOG_LEVEL: logLevel(),
  },
  async run(config) {
    const problems = startupProblems();
    if (problems.length > 0) throw new NsmError('FAILED_PRECONDITION', `cannot start:\n  - ${problems.join('\n  - ')}`);
    if (config.NSM_REGISTRY_DIR === '') {
      throw new NsmError('FAILED_PRECONDITION', 'the Kubernetes registry backend is not available in this version yet: set NSM_REGISTRY_DIR to a directory shared by the forwarders (e.g. /var/lib/networkservicemesh/registry)');
    }
    const name = config.NSM_NAME || hostname();
    const log = createLogger(`forwarder/${name}`, config.NSM_LOG_LEVEL);
    const registry = await openDirRegistry(config.NSM_REGISTRY_DIR);
    const forwarder = await startForwarder({
      name,
      listenOn: config.NSM_LISTEN_ON,
      registry,
      runner: new IpBatchRunner(),
      log,
      connectionLifetimeMs: config.NSM_MAX_TOKEN_LIFETIME,
      registrationLifetimeMs: config.NSM_EXPIRE_PERIOD,
      dialTimeoutMs: config.NSM_DIAL_TIMEOUT,
      requestTimeoutMs: config.NSM_REQUEST_TIMEOUT,
      memifDir: config.NSM_MEMIF_DIR,
    });
    log.info({ listenOn: config.NSM_LISTEN_ON, registry: config.NSM_REGISTRY_DIR }, 'forwarder ready');
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    // Connections stay in the kernel: a restarted forwarder adopts them.
    await forwarder.stop();
    await registry.close();
    log.info('forwarder stopped; connections left in place for the next forwarder');
    return 0;
  },
});
