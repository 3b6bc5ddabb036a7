import { hostname } from 'node:os';
import { parseNsUrlList, type NsUrl } from '../../proto/api.ts';
import type { ConfigOf } from '../../sdk/config/types.ts';
import { NsmError } from '../../sdk/errors.ts';
import { createLogger, type Logger } from '../../sdk/log.ts';
import { dialer, type Dialer } from './client.ts';
import type { nscEnv } from './env.ts';
import { checkMechanismOptions } from './preferences.ts';
import { claimTokens, type TokenClaims } from './sriov-tokens.ts';

export interface ClientSetup {
  urls: NsUrl[];
  name: string;
  log: Logger;
  dial: Dialer;
  /** The device-pool tokens the URLs claim from this container's environment. */
  claims: TokenClaims;
}

/** What `nsc init` and `nsc run` both start from: the services, the client name, a logger and a dialer. */
/** `allowNone`: start without services (nsc run that follows the annotation or serves applications). */
export function clientSetup(config: ConfigOf<typeof nscEnv>, verb: string, logName: string, allowNone = false): ClientSetup {
  const urls = parseNsUrlList(config.NSM_NETWORK_SERVICES);
  urls.forEach(checkMechanismOptions);
  if (urls.length === 0 && !allowNone) throw new NsmError('INVALID_ARGUMENT', `NSM_NETWORK_SERVICES: no network service to ${verb} (example: kernel://my-service/nsm-1)`);
  const name = config.NSM_NAME || hostname();
  return { urls, name, log: createLogger(`${logName}/${name}`, config.NSM_LOG_LEVEL), dial: dialer(config.NSM_CONNECT_TO, config.NSM_DIAL_TIMEOUT), claims: claimTokens(urls) };
}
