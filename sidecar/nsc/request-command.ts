import { Connection, kernelMechanism, memifMechanism, NsUrlError, parseNsUrl, type NsUrl } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { NsmError } from '../../sdk/errors.ts';
import { clientApiEnv, dialClientApi } from './api-env.ts';
import { connectionRows, formatTable } from './list-command.ts';

export default defineCommand({
  summary: 'ask the pod\'s sidecar for one more network service, as an application would (run in the pod)',
  usage: 'kernel://SERVICE/IFNAME[?label=value...]',
  env: clientApiEnv,
  async run(config, args) {
    if (args.length !== 1) throw new NsmError('INVALID_ARGUMENT', 'nsc request needs one NS URL, e.g. kernel://my-service/nsm-2');
    let url: NsUrl;
    try {
      url = parseNsUrl(args[0]);
    } catch (err) {
      if (err instanceof NsUrlError) throw new NsmError('INVALID_ARGUMENT', err.message);
      throw err;
    }
    const client = await dialClientApi(config);
    try {
      const conn = await client.request({
        connection: Connection.fromPartial({ networkService: url.service, labels: url.labels }),
        mechanismPreferences: url.mechanism === 'memif' ? [memifMechanism({})] : [kernelMechanism({ name: url.ifname })],
      }, { timeoutMs: config.NSM_REQUEST_TIMEOUT * 2 });
      process.stdout.write(`${formatTable(['INTERFACE', 'SERVICE', 'ENDPOINT', 'ADDRESSES', 'STATE', 'ID'], connectionRows([conn]))}\n`);
      return 0;
    } finally {
      client.shutdown();
    }
  },
});
