import type { BridgePort, Connection, IPContext, Mechanism } from '../../../proto/api.ts';

/**
 * How a passthrough joins a connection's two interfaces in its pod: the incoming one (the
 * endpoint end the forwarder makes after this pod answered) and the onward one (the client end
 * of the connection this pod requests onward).
 */
export interface PodJoin {
  readonly kind: 'bridge' | 'routed';
  /** Before the onward request: what both ends will be joined by. */
  prepare(connId: string): Promise<void>;
  /** What this pod offers for its onward end. */
  onwardMechanism(connId: string, netnsUrl: string): Mechanism;
  /** After every onward answer (a heal too): the onward end made part of the join. */
  onwardAnswered(connId: string, onward: Connection): Promise<void>;
  /** The bridge the incoming end joins, when there is one. */
  incomingPort(connId: string): BridgePort | undefined;
  /** The IP context the client gets, from the last endpoint's. */
  incomingIpContext(last: IPContext | undefined): IPContext | undefined;
  /** Removes what prepare made (idempotent). */
  remove(connId: string): Promise<void>;
}
