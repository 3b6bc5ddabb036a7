import { address, bool, duration, int, labels, logLevel, metricsAddress, oneOf, str } from '../sdk/config/index.ts';
import type { Var } from '../sdk/config/types.ts';
import { clientApiAddress, DEFAULT_CLIENT_API, DEFAULT_FORWARDER_SOCKET } from '../sidecar/nsc/env.ts';

/** Env names the injected containers own; NSM_ENVS may not set them. */
export const RESERVED_ENV = ['POD_NAME', 'NSM_NETWORK_SERVICES', 'NSM_NAME', 'NSM_CONNECT_TO', 'NSM_CONNECTIONS_DIR', 'NSM_METRICS_LISTEN_ON', 'POD_NAMESPACE', 'NSM_POD_ANNOTATIONS', 'NSM_ANNOTATION', 'NSM_CLIENT_API'] as const;

/** `K=V,K2=V2`, split on the first `=` so values may contain `=`. */
export function parseEnvList(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`${JSON.stringify(item)} must be written NAME=value`);
    const name = item.slice(0, eq).trim();
    if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) throw new Error(`${JSON.stringify(name)} is not a valid environment variable name`);
    if ((RESERVED_ENV as readonly string[]).includes(name)) throw new Error(`${name} is set by the webhook itself (NSM_CONNECT_TO and NSM_CONNECTIONS_DIR have their own webhook variables; the sidecar's NSM_METRICS_LISTEN_ON is NSM_SIDECAR_METRICS_LISTEN_ON, its NSM_CLIENT_API NSM_SIDECAR_CLIENT_API, and its NSM_ANNOTATION is the webhook's own)`);
    if (out.some(([n]) => n === name)) throw new Error(`${name} is given twice`);
    out.push([name, item.slice(eq + 1)]);
  }
  return out;
}

const envList = (description: string): Var<Array<[string, string]>> => ({ default: '', description, parse: parseEnvList });

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const quantity = (def: string, description: string): Var<string> =>
  str(def, description, (raw) => {
    if (!QUANTITY.test(raw.trim())) throw new Error('expected a Kubernetes quantity such as 100m, 40Mi or 1');
  });

const image = (def: string, description: string): Var<string> =>
  str(def, description, (raw) => {
    if (/\s/.test(raw) || (def !== '' && raw.trim() === '')) throw new Error('expected an image reference such as ghcr.io/org/name:tag');
  });

/** What the injected containers look like; shared by `nsm webhook` and `nsm inject`. */
export const injectionEnv = {
  NSM_ANNOTATION: str('networkservicemesh.io', 'annotation that lists the network services of a pod or namespace'),
  NSM_SIDECAR_IMAGE: image('ghcr.io/nsm-project/nsm-sidecar:0.1.0', 'image of the injected init container and sidecar'),
  NSM_INIT_IMAGE: image('', 'image of the injected init container (defaults to NSM_SIDECAR_IMAGE)'),
  NSM_IMAGE_PULL_POLICY: oneOf('IfNotPresent', ['Always', 'IfNotPresent', 'Never'], 'pull policy of the injected containers'),
  NSM_NATIVE_SIDECAR: oneOf('auto', ['auto', 'on', 'off'], 'inject the sidecar as an init container with restartPolicy Always (auto: when the API server is 1.29 or newer)'),
  NSM_SIDECAR_LIMITS_CPU: quantity('200m', 'CPU limit of each injected container'),
  NSM_SIDECAR_LIMITS_MEMORY: quantity('80Mi', 'memory limit of each injected container'),
  NSM_SIDECAR_REQUESTS_CPU: quantity('100m', 'CPU request of each injected container'),
  NSM_SIDECAR_REQUESTS_MEMORY: quantity('40Mi', 'memory request of each injected container'),
  NSM_CONNECT_TO: address(DEFAULT_FORWARDER_SOCKET, 'forwarder socket address given to the injected client'),
  NSM_CONNECTIONS_DIR: str('/var/run/nsm/connections', 'where the client writes connections; mounted read-only into app containers'),
  NSM_SIDECAR_METRICS_LISTEN_ON: metricsAddress('NSM_METRICS_LISTEN_ON of the injected sidecar (nsm nsc run), e.g. :9093, a port in every injected pod\'s network namespace; empty = the sidecar serves no metrics'),
  NSM_SIDECAR_CLIENT_API: clientApiAddress(DEFAULT_CLIENT_API, 'NSM_CLIENT_API of the injected sidecar: the unix socket, in a volume shared with the pod\'s containers, where applications request network services; empty = none'),
  NSM_ENVS: envList('extra env for the injected containers, comma-separated NAME=value'),
  NSM_LABELS: labels('', 'labels added to injected pods, comma-separated key=value (existing pod labels win)'),
};

export const webhookEnv = {
  NSM_LISTEN_ON: address(':8443', 'HTTPS address of POST /mutate, GET /healthz and GET /readyz'),
  NSM_METRICS_LISTEN_ON: address(':9090', 'plain HTTP address of GET /metrics (Prometheus)'),
  NSM_CERT_FILE_PATH: str('/etc/nsm/webhook/tls/tls.crt', 'serving certificate (PEM); reloaded when the file changes'),
  NSM_KEY_FILE_PATH: str('/etc/nsm/webhook/tls/tls.key', 'serving key (PEM); reloaded when the file changes'),
  ...injectionEnv,
  NSM_BODY_LIMIT: int(4 * 1024 * 1024, 'largest AdmissionReview accepted, in bytes (larger: 413)', 1024),
  NSM_DRAIN_PERIOD: duration('5s', 'on SIGTERM, keep serving this long with /readyz failing before closing'),
  NSM_DEBUG_ENDPOINTS: bool(false, 'serve GET /debug/inject?namespace=NS&services=URLS for dry runs'),
  NSM_LOG_LEVEL: logLevel(),
};
