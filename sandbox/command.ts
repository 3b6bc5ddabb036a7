import { logLevel } from '../sdk/config/index.ts';
import { defineCommand, notImplemented } from '../sdk/cli.ts';

export default defineCommand({
  summary: 'run the whole mesh on this Linux host: network namespaces as nodes and pods (root)',
  usage: 'up [--nodes N] | apply -f FILE | status | down | demo [--keep]',
  env: { NSM_LOG_LEVEL: logLevel() },
  run: async () => notImplemented('sandbox'),
});
