import { NsmError } from './errors.ts';
import type { ConfigOf, Schema } from './config/types.ts';

/** One `nsm` subcommand: a thin entry over its folder. */
export interface Command<S extends Schema = Schema> {
  readonly summary: string;
  /** Arguments after the subcommand, for --help. */
  readonly usage?: string;
  readonly env: S;
  run(config: ConfigOf<S>, args: string[]): Promise<number | void>;
}

export function defineCommand<S extends Schema>(command: Command<S>): Command<S> {
  return command;
}

/** What a subcommand whose implementation has not landed yet does: say so and fail. */
export function notImplemented(name: string): never {
  throw new NsmError('UNIMPLEMENTED', `nsm ${name} is not implemented in this version yet; README.md ("What works today") lists what is`);
}
