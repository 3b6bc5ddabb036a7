// Value model shared by the template parser, executor and functions.

import type { KeyObject } from 'node:crypto';

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export type Func = (...args: unknown[]) => unknown;

/** The signing material behind a genCA result, kept out of the template's reach. */
export interface Issuer {
  cn: string;
  keyObject: KeyObject;
  publicDer: Buffer;
}

/** A value whose fields are Go struct fields (the result of genCA or genSignedCert): always true. */
export class Struct {
  readonly fields: Record<string, unknown>;
  readonly issuer: Issuer | undefined;
  constructor(fields: Record<string, unknown>, issuer?: Issuer) {
    this.fields = fields;
    this.issuer = issuer;
  }
}

/**
 * A number from values or from the cluster. Helm reads every number there as a Go float64, which
 * prints, compares and converts differently from the int literals written in templates.
 */
export class Float {
  readonly v: number;
  constructor(v: number) {
    this.v = v;
  }
}

/** Wraps every number in a values tree as a Float, as Helm's YAML-to-JSON decoding makes them. */
export function floats(v: unknown): unknown {
  if (typeof v === 'number') return new Float(v);
  if (Array.isArray(v)) return v.map(floats);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, floats(e)]));
  return v;
}

/** Unwraps Floats back to plain numbers (for serialising). */
export function plain(v: unknown): unknown {
  if (v instanceof Float) return v.v;
  if (Array.isArray(v)) return v.map(plain);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, plain(e)]));
  return v;
}

/** Maps (the built-in objects) where reading a missing key is an error rather than empty. */
export const strictMaps = new WeakSet<object>();

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Struct) && !(v instanceof Float);
}

/** Go template truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof Float) return v.v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/**
 * Formats a number as Go prints a float64 (Helm's type for numbers in values) with %v, limited to
 * the range where that is plain decimal; outside it Go switches to exponent form, so refuse.
 */
export function formatNumberOrThrow(v: number): string {
  const a = Math.abs(v);
  if (!Number.isFinite(v) || a >= 1e6 || (a !== 0 && a < 1e-4)) {
    throw new TemplateError(`number ${v} would print in exponent form; quote it in values`);
  }
  return String(v);
}

/** Prints a pipeline result as `{{ ... }}` does under Helm (a missing value prints as ""). */
export function printValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return String(v);
  if (v instanceof Float) return formatNumberOrThrow(v.v);
  throw new TemplateError(`printing a ${Array.isArray(v) ? 'list' : 'map or object'} directly is not supported; use toYaml`);
}
