import { isIP } from 'node:net';
import { LINUX_IFNAME_MAX } from '../mechanisms.ts';

/**
 * The rules every string that arrives over gRPC is held to, each as a function that says what
 * is wrong (or undefined). A problem reads `<field> <value>: <rule>`, naming the field as the
 * proto spells it, so a caller can find it in its own request.
 */
export type Problem = string | undefined;

export const LIMITS = {
  /** Connection ids, path segment names and ids, endpoint and service names. */
  name: 253,
  labelKey: 253,
  labelValue: 253,
  labels: 64,
  parameterKey: 64,
  parameterValue: 1024,
  parameters: 64,
  preferences: 16,
  segments: 32,
  token: 8192,
  addresses: 64,
  routes: 256,
  /** A unix socket path, as sockaddr_un allows. */
  socketPath: 107,
} as const;

const shown = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);

/** Connection ids, segment names and ids, endpoint and service names: letters, digits and `-._~:@+`, a letter or digit first. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._~:@+-]*$/;
/** Label keys as Kubernetes writes them (an optional `prefix/`), letters, digits, `-._/`. */
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

export const NAME_RULE = `1-${LIMITS.name} letters, digits and -._~:@+, starting with a letter or digit`;

export function nameProblem(field: string, value: string, required = true): Problem {
  if (value === '') return required ? `${field} is empty: it must be ${NAME_RULE}` : undefined;
  if (value.length > LIMITS.name || !NAME.test(value)) return `${field} ${shown(value)} is not a valid name: it must be ${NAME_RULE}`;
  return undefined;
}

/** Free text that travels on (label values, parameter values): bounded, no control characters. */
export function textProblem(field: string, value: string, max: number): Problem {
  if (value.length > max) return `${field} is ${value.length} characters long; at most ${max} are allowed`;
  if (CONTROL.test(value)) return `${field} ${shown(value)} contains a control character`;
  return undefined;
}

export function labelsProblem(field: string, labels: Record<string, string>): Problem {
  const entries = Object.entries(labels);
  if (entries.length > LIMITS.labels) return `${field} has ${entries.length} labels; at most ${LIMITS.labels} are allowed`;
  for (const [key, value] of entries) {
    if (key.length > LIMITS.labelKey || !LABEL_KEY.test(key)) {
      return `${field} key ${shown(key)} is not a valid label key: 1-${LIMITS.labelKey} letters, digits and -._/, starting and ending with a letter or digit`;
    }
    const p = textProblem(`${field}[${JSON.stringify(key)}]`, value, LIMITS.labelValue);
    if (p) return p;
  }
  return undefined;
}

/**
 * Why this interface name is refused, or undefined when it is fine: Linux's rules (dev_valid_name),
 * and none of the characters tools read specially (`%` templates, `#` comments, quotes, backslashes).
 */
export function ifnameProblem(name: string): string | undefined {
  if (name === '') return `the interface name is missing (example: kernel://my-service/nsm-1)`;
  if (name === '.' || name === '..') return `interface name ${JSON.stringify(name)} is reserved by Linux`;
  const bad = /[/:%#"'\\]|[^\x21-\x7e]/.exec(name)?.[0];
  if (bad !== undefined) return `interface name ${JSON.stringify(name)} contains ${JSON.stringify(bad)}; interface names may not contain /, :, %, #, quotes, backslashes, spaces or control characters`;
  if (name.length > LINUX_IFNAME_MAX) {
    return `interface name ${JSON.stringify(name)} is ${name.length} characters; Linux allows at most ${LINUX_IFNAME_MAX}`;
  }
  return undefined;
}

export function interfaceNameProblem(field: string, value: string): Problem {
  const p = ifnameProblem(value);
  return p && `${field}: ${p}`;
}

export function ipProblem(field: string, value: string): Problem {
  return isIP(value) === 0 ? `${field} ${shown(value)} is not an IPv4 or IPv6 address` : undefined;
}

export function cidrProblem(field: string, value: string): Problem {
  const [addr, len, extra] = value.split('/');
  const family = isIP(addr ?? '');
  const bits = family === 4 ? 32 : 128;
  if (family === 0 || extra !== undefined || len === undefined || !/^\d{1,3}$/.test(len) || Number(len) > bits) {
    return `${field} ${shown(value)} is not an address with a prefix length, such as 10.0.0.1/32`;
  }
  return undefined;
}

export function intProblem(field: string, value: string, min: number, max: number): Problem {
  if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) return `${field} ${shown(value)} is not a whole number from ${min} to ${max}`;
  return undefined;
}

export function inodeUrlProblem(field: string, value: string): Problem {
  return /^inode:\/\/\d{1,20}\/\d{1,20}$/.test(value) ? undefined : `${field} ${shown(value)} is not a network namespace URL: expected inode://<dev>/<ino>`;
}

export function socketPathProblem(field: string, value: string): Problem {
  if (!value.startsWith('/')) return `${field} ${shown(value)} is not an absolute path`;
  if (Buffer.byteLength(value) > LIMITS.socketPath) return `${field} is ${Buffer.byteLength(value)} bytes long; a unix socket path has at most ${LIMITS.socketPath}`;
  if (CONTROL.test(value) || value.split('/').includes('..')) return `${field} ${shown(value)} contains a control character or a ".." step`;
  return undefined;
}

/** The first problem of several checks. */
export function first(...problems: Problem[]): Problem {
  return problems.find((p) => p !== undefined);
}
