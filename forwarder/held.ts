import type { begin } from '../sdk/chain/begin.ts';
import type { metadata } from '../sdk/chain/metadata.ts';
import type { Forwarder } from './server.ts';

/**
 * What the forwarder holds, entry by entry: each count goes back to where it was once the
 * connections it stands for are closed (a leak shows as a count that keeps growing). Logged on
 * SIGUSR2.
 */
export function held(f: Forwarder): Record<string, number> {
  const named = (name: string): unknown => f.elements.find((e) => e.name === name);
  return {
    connections: (named('begin') as ReturnType<typeof begin> | undefined)?.connections().size ?? 0,
    metadata: (named('metadata') as ReturnType<typeof metadata> | undefined)?.size() ?? 0,
    owners: f.owners.size,
    monitored: f.monitor.connections.size,
    watched: f.healer.watched.size,
    watchIndexes: f.healer.watched.indexed,
    goneEndpoints: f.healer.gone.size,
    closingInterfaces: f.healer.closes.size,
    watchedNamespaces: f.healer.watching.namespaces,
    peerStreams: f.healer.watching.peerStreams,
    vnis: f.peering?.vnis.size ?? 0,
    unclaimedAdoptions: f.adoption.size,
  };
}
