import { address, bool, list, logLevel, oneOf, str } from '../sdk/config/index.ts';
import { defineCommand, notImplemented } from '../sdk/cli.ts';

export const webhookEnv = {
  NSM_LISTEN_ON: address(':8443', 'HTTPS address of POST /mutate, GET /healthz and GET /readyz'),
  NSM_METRICS_LISTEN_ON: address(':9090', 'plain HTTP address of GET /metrics (Prometheus)'),
  NSM_CERT_FILE_PATH: str('/etc/nsm/webhook/tls/tls.crt', 'serving certificate (PEM); reloaded when the file changes'),
  NSM_KEY_FILE_PATH: str('/etc/nsm/webhook/tls/tls.key', 'serving key (PEM); reloaded when the file changes'),
  NSM_ANNOTATION: str('networkservicemesh.io', 'annotation that lists the network services of a pod or namespace'),
  NSM_SIDECAR_IMAGE: str('ghcr.io/nsm-project/nsm-sidecar:0.1.0', 'image of the injected init container and sidecar'),
  NSM_IMAGE_PULL_POLICY: oneOf('IfNotPresent', ['Always', 'IfNotPresent', 'Never'], 'pull policy of the injected containers'),
  NSM_NATIVE_SIDECAR: oneOf('auto', ['auto', 'on', 'off'], 'inject the sidecar as an init container with restartPolicy Always'),
  NSM_ENVS: list('', 'extra env for the injected containers, comma-separated K=V'),
  NSM_DEBUG_ENDPOINTS: bool(false, 'serve GET /debug/inject for dry runs'),
  NSM_LOG_LEVEL: logLevel(),
};

export default defineCommand({
  summary: 'mutating admission webhook that injects the NSM client into annotated pods',
  env: webhookEnv,
  run: async () => notImplemented('webhook'),
});
