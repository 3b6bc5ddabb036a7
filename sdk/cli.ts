import type { ConfigOf, Schema } from './config/types.ts';

/** One `nsm` subcommand: a thin entry over its folder. */
export interface Command<S extends Schema = Schema> {
  readonly summary: string;
  /** Arguments after the subcommand, for --help. */
  readonly usage?: string;
  readonly env: S;
  run(config: ConfigOf<S>, args: string[]): Promise<number | undefined>;
}

export function defineCommand<S extends Schema>(command: Command<S>): Command<S> {
  return command;
}
