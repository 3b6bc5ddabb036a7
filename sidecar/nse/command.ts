import { hostname } from 'node:os';
import { defineCommand } from '../../sdk/cli.ts';
import { NsmError } from '../../sdk/errors.ts';
import { createLogger } from '../../sdk/log.ts';
import { startEndpoint } from './endpoint.ts';
import { ENDPOINTS_DIR, nseEnv } from './env.ts';
import { MODES } from './modes.ts';
import { stopSignal } from '../../sdk/stop-signal.ts';

export default defineCommand({
  summary: 'network service endpoint sidecar (NSM_MODE: point-to-point IPAM, L2 bridge, external device, service-chain passthrough)',
  env: nseEnv,
  async run(config) {
    const stopped = stopSignal();
    if (config.NSM_SERVICE_NAMES.length === 0) throw new NsmError('INVALID_ARGUMENT', 'NSM_SERVICE_NAMES: name at least one network service this endpoint provides');
    const name = config.NSM_NAME || hostname();
    const log = createLogger(`nse/${name}`, config.NSM_LOG_LEVEL);
    const options = {
      name,
      services: config.NSM_SERVICE_NAMES,
      labels: config.NSM_LABELS,
      payload: config.NSM_PAYLOAD,
      registerServices: config.NSM_REGISTER_SERVICE,
      connectTo: config.NSM_CONNECT_TO,
      listenOn: config.NSM_LISTEN_ON || `unix://${ENDPOINTS_DIR}/${name}.sock`,
      connectionLifetimeMs: config.NSM_MAX_TOKEN_LIFETIME,
      dialTimeoutMs: config.NSM_DIAL_TIMEOUT,
      log,
    };
    const mode = await MODES[config.NSM_MODE].start(options, config);
    const endpoint = await startEndpoint(options, mode, config.NSM_METRICS_LISTEN_ON || undefined);
    process.on('SIGUSR2', () => log.info({ held: endpoint.held() }, 'state held'));
    void endpoint.registered.then(() => log.info({ mode: config.NSM_MODE, services: config.NSM_SERVICE_NAMES, ...mode.describe, metricsPort: endpoint.metricsPort }, 'endpoint registered'));
    await stopped;
    await endpoint.stop();
    log.info('endpoint unregistered and stopped');
    return 0;
  },
});
