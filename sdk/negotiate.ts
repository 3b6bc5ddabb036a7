import type { Mechanism } from '../proto/api.ts';
import { NsmError } from './errors.ts';

export interface Supported {
  type: string;
  cls: string;
}

/**
 * Upstream server rule: an already chosen mechanism (refresh) must be supported; otherwise the
 * client's preferences are tried in order and the first supported one wins.
 */
export function negotiate(current: Mechanism | undefined, preferences: readonly Mechanism[], supported: readonly Supported[]): Mechanism {
  const ok = (m: Mechanism) => supported.some((s) => s.type === m.type && s.cls === m.cls);
  const names = supported.map((s) => `${s.type}/${s.cls}`).join(', ');
  if (current && current.type !== '') {
    if (ok(current)) return current;
    throw new NsmError('INVALID_ARGUMENT', `connection uses mechanism ${current.type}/${current.cls}, which this forwarder does not support (supported: ${names})`);
  }
  const hit = preferences.find(ok);
  if (hit) return hit;
  const offered = preferences.map((m) => `${m.type}/${m.cls}`).join(', ') || 'none';
  throw new NsmError('INVALID_ARGUMENT', `no mechanism in common: the client offered ${offered}; this forwarder supports ${names}`);
}
