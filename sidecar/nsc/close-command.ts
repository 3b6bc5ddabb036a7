import { Connection, kernelMechanism } from '../../proto/api.ts';
import { defineCommand } from '../../sdk/cli.ts';
import { NsmError } from '../../sdk/errors.ts';
import { clientApiEnv, dialClientApi } from './api-env.ts';

export default defineCommand({
  summary: 'close a connection an application of the pod asked for, by its id or interface name (run in the pod; nsm nsc list shows both)',
  usage: 'CONNECTION-ID|INTERFACE',
  env: clientApiEnv,
  async run(config, args) {
    if (args.length !== 1 || args[0] === '') throw new NsmError('INVALID_ARGUMENT', 'nsc close needs the id or the interface name of a connection, as nsm nsc list shows them');
    const client = await dialClientApi(config);
    try {
      await client.close(Connection.fromPartial({ id: args[0], mechanism: kernelMechanism({ name: args[0] }) }), { timeoutMs: config.NSM_REQUEST_TIMEOUT * 2 });
      process.stdout.write(`closed ${args[0]}\n`);
      return 0;
    } finally {
      client.shutdown();
    }
  },
});
