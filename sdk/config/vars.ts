import { parseAddress } from '../grpc/address.ts';
import { LOG_LEVELS, type LogLevel } from '../log.ts';
import type { Var } from './types.ts';

const v = <T>(def: string, description: string, parse: (raw: string) => T): Var<T> => ({ default: def, description, parse });

export const str = (def: string, description: string, check?: (s: string) => void): Var<string> =>
  v(def, description, (raw) => {
    check?.(raw);
    return raw;
  });

export const required = (description: string): Var<string> =>
  v('', description, (raw) => {
    if (raw.trim() === '') throw new Error('must be set');
    return raw.trim();
  });

export const int = (def: number, description: string, min = 0, max = Number.MAX_SAFE_INTEGER): Var<number> =>
  v(String(def), description, (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error('expected a whole number');
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`expected a number from ${min} to ${max}`);
    return n;
  });

export const bool = (def: boolean, description: string): Var<boolean> =>
  v(String(def), description, (raw) => {
    const s = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off', ''].includes(s)) return false;
    throw new Error('expected true or false');
  });

export const oneOf = <T extends string>(def: T, values: readonly T[], description: string): Var<T> =>
  v(def, description, (raw) => {
    const s = raw.trim();
    const hit = values.find((x) => x.toLowerCase() === s.toLowerCase());
    if (hit === undefined) throw new Error(`expected one of ${values.join(', ')}`);
    return hit;
  });

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations as upstream NSM writes them: `750ms`, `15s`, `1m30s`. Parsed to milliseconds. */
export function parseDuration(raw: string): number {
  const s = raw.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (s === '' || consumed !== s.length) throw new Error('expected a duration such as 750ms, 15s, 5m or 1m30s');
  return Math.round(total);
}

export const duration = (def: string, description: string): Var<number> => v(def, description, parseDuration);

export const list = (def: string, description: string): Var<string[]> =>
  v(def, description, (raw) => raw.split(',').map((s) => s.trim()).filter((s) => s !== ''));

/** `k=v,k2=v2` (upstream's `k:v` is accepted too). Values may contain `=`. */
export function parseLabels(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.search(/[=:]/);
    if (eq <= 0) throw new Error(`${JSON.stringify(item)} must be written key=value`);
    const key = item.slice(0, eq).trim();
    if (Object.hasOwn(out, key)) throw new Error(`${JSON.stringify(key)} is given twice`);
    out[key] = item.slice(eq + 1).trim();
  }
  return out;
}

export const labels = (def: string, description: string): Var<Record<string, string>> => v(def, description, parseLabels);

export const address = (def: string, description: string): Var<string> =>
  v(def, description, (raw) => {
    parseAddress(raw);
    return raw.trim();
  });

/** Where GET /metrics is served over plain HTTP: `host:port` or `:port`; empty = no metrics. */
export const metricsAddress = (description: string): Var<string> =>
  str('', description, (s) => {
    if (s && parseAddress(s).kind !== 'tcp') throw new Error('metrics are served over TCP; expected :9090 or host:port');
  });

export const logLevel = (def: LogLevel = 'info'): Var<LogLevel> =>
  v(def, 'log level: trace, debug, info, warn, error or silent', (raw) => {
    const s = raw.trim().toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(s)) throw new Error(`expected one of ${LOG_LEVELS.join(', ')}`);
    return s as LogLevel;
  });
