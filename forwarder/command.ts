import { address, logLevel, str } from '../sdk/config/index.ts';
import { defineCommand, notImplemented } from '../sdk/cli.ts';

export default defineCommand({
  summary: 'node agent: negotiates connections and programs the kernel (root, hostPID)',
  env: {
    NSM_NAME: str('', 'forwarder name, normally the node name (defaults to the host name)'),
    NSM_LISTEN_ON: address('unix:///var/lib/networkservicemesh/nsm.io.sock', 'socket for clients and endpoints on this node'),
    NSM_REGISTRY_DIR: str('', 'use a local directory as the registry (sandbox); empty = Kubernetes CRDs'),
    NSM_LOG_LEVEL: logLevel(),
  },
  run: async () => notImplemented('forwarder'),
});
