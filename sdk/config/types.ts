import { NsmError } from '../errors.ts';

/** One environment variable: its default (as it would be written), what it means, how it is read. */
export interface Var<T> {
  readonly default: string;
  readonly description: string;
  /** Throws an Error whose message says what a good value looks like. */
  parse(raw: string): T;
}

export type Schema = Readonly<Record<string, Var<unknown>>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends Var<infer T> ? T : never };

export class ConfigError extends NsmError {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super('INVALID_ARGUMENT', `${variable}: ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** Reads every variable of the schema; a bad value stops here with a message naming the variable. */
export function loadConfig<S extends Schema>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(schema)) {
    const set = env[name];
    const raw = set === undefined ? v.default : set;
    try {
      out[name] = v.parse(raw);
    } catch (err) {
      const shown = set === undefined ? `default ${JSON.stringify(raw)}` : JSON.stringify(raw);
      throw new ConfigError(name, `${shown} is not valid: ${(err as Error).message}`);
    }
  }
  return out as ConfigOf<S>;
}

export function describeSchema(schema: Schema): string {
  const rows = Object.entries(schema).map(([name, v]) => [name, v.default === '' ? '(none)' : v.default, v.description]);
  const w0 = Math.max(...rows.map((r) => r[0].length), 8);
  const w1 = Math.min(Math.max(...rows.map((r) => r[1].length), 7), 48);
  const lines = rows.map(([n, d, desc]) => `  ${n.padEnd(w0)}  ${d.padEnd(w1)}  ${desc}`);
  return [`  ${'VARIABLE'.padEnd(w0)}  ${'DEFAULT'.padEnd(w1)}  MEANING`, ...lines].join('\n');
}
