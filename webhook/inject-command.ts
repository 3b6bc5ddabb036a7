import { logLevel, str } from '../sdk/config/index.ts';
import { defineCommand, notImplemented } from '../sdk/cli.ts';

export default defineCommand({
  summary: 'inject the NSM client into pods and workload templates offline (GitOps)',
  usage: '-f FILE|- [-o yaml|json] [--namespace-file FILE]',
  env: {
    NSM_ANNOTATION: str('networkservicemesh.io', 'annotation that lists the network services of a pod or namespace'),
    NSM_SIDECAR_IMAGE: str('ghcr.io/nsm-project/nsm-sidecar:0.1.0', 'image of the injected init container and sidecar'),
    NSM_LOG_LEVEL: logLevel('warn'),
  },
  run: async () => notImplemented('inject'),
});
