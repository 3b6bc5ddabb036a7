import { loadConfig } from '../sdk/config/types.ts';
import { NsmError } from '../sdk/errors.ts';
import { injectionEnv } from '../webhook/env.ts';
import { injectPod } from '../webhook/inject.ts';
import { injectionConfigFromEnv, type InjectionConfig } from '../webhook/injection-config.ts';
import type { JsonObject } from '../webhook/json-patch.ts';
import { emptyNamespace } from '../webhook/namespace-info.ts';

import type { Pod } from './workload.ts';

let config: InjectionConfig | undefined;

/**
 * The webhook's own configuration with its defaults, classic sidecars (the sandbox runs init
 * containers first), and the sidecar's metrics on, in each client pod's namespace.
 */
function sandboxConfig(): InjectionConfig {
  config ??= injectionConfigFromEnv(loadConfig(injectionEnv, { NSM_SIDECAR_METRICS_LISTEN_ON: ':9093' }), false);
  return config;
}

/**
 * The one place the sandbox mutates a pod: the webhook's pure injection function, exactly as the
 * admission webhook runs it. A malformed annotation is refused with the webhook's message.
 */
export function injectAsWebhook(pod: Pod): Pod {
  const decision = injectPod(pod as unknown as JsonObject, emptyNamespace(pod.metadata.namespace ?? 'default'), sandboxConfig());
  if (decision.kind === 'deny') throw new NsmError('INVALID_ARGUMENT', `pod ${pod.metadata.name}: ${decision.message}`);
  return decision.kind === 'inject' ? (decision.patched as unknown as Pod) : pod;
}
