import { MonitorConnectionDefinition, type ConnectionEvent, type MonitorScopeSelector } from '../../proto/api.ts';
import { serverStream, type Channel } from './client.ts';

/** `connection.MonitorConnection/MonitorConnections` on one channel: the events until the stream ends or `signal` aborts. */
export function monitorConnections(channel: Channel, selector: MonitorScopeSelector, signal?: AbortSignal): AsyncGenerator<ConnectionEvent> {
  return serverStream(channel, MonitorConnectionDefinition, MonitorConnectionDefinition.methods.monitorConnections, selector, { signal });
}
