import { defineCommand, notImplemented } from '../../sdk/cli.ts';
import { nscEnv } from './env.ts';

export default defineCommand({
  summary: 'request every network service of the pod before the application starts',
  env: nscEnv,
  run: async () => notImplemented('nsc init'),
});
