import { defineCommand, notImplemented } from '../../sdk/cli.ts';
import { nscEnv } from './env.ts';

export default defineCommand({
  summary: 'keep the pod\'s connections alive (refresh, heal) and close them on shutdown',
  env: nscEnv,
  run: async () => notImplemented('nsc run'),
});
