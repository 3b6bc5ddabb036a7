import type { Registry } from 'prom-client';
import type { Element } from '../../sdk/chain/types.ts';
import type { ConfigOf } from '../../sdk/config/types.ts';
import type { nseEnv } from './env.ts';
import type { EndpointOptions } from './options.ts';
import { bridgeMode } from './bridge/mode.ts';
import { externalMode } from './external/mode.ts';
import { p2pMode } from './p2p/mode.ts';

export type NseConfig = ConfigOf<typeof nseEnv>;

/** What a mode puts behind the endpoint's common elements (updatepath, begin, metadata, timeout). */
export interface ModeRuntime {
  readonly elements: Element[];
  /** Labels the mode adds to the endpoint's registration. */
  readonly labels?: Record<string, string>;
  /** What the start-up log line says of the mode (its pool, its bridge...). */
  readonly describe: Record<string, unknown>;
  /** What the mode keeps per connection, counted (addresses, ids...): each goes back to 0 once its connections are closed. */
  held?(): Record<string, number>;
  /** Registers the mode's own metrics (its pool, its ports...) in the endpoint's registry. */
  metrics?(registry: Registry): void;
  stop?(): Promise<void>;
}

/**
 * One endpoint mode: a chain of small elements in its own folder (sidecar/nse/<mode>/). `start`
 * checks the mode's settings (a bad one stops the endpoint naming the variable) and sets up what
 * the mode owns before the endpoint serves.
 */
export interface EndpointMode {
  start(o: EndpointOptions, config: NseConfig): Promise<ModeRuntime>;
}

export const MODES = { p2p: p2pMode, bridge: bridgeMode, external: externalMode } as const satisfies Record<string, EndpointMode>;
export type ModeName = keyof typeof MODES;
export const MODE_NAMES = Object.keys(MODES) as ModeName[];
