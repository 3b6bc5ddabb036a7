import type { Logger } from '../../sdk/log.ts';

/** What an endpoint is started with: its chain, its server and its registration all read these. */
export interface EndpointOptions {
  name: string;
  services: string[];
  labels: Record<string, string>;
  payload: string;
  connectTo: string;
  listenOn: string;
  connectionLifetimeMs: number;
  dialTimeoutMs: number;
  log: Logger;
  /** Register the NetworkServices (name and payload) too; off when they are managed as objects of their own. */
  registerServices?: boolean;
}
