import { NetworkServiceDefinition, type Connection, type NetworkServiceRequest } from '../../proto/api.ts';
import type { Element } from '../chain/types.ts';
import { dial, unary, type CallOptions, type Channel, type DialOptions } from './client.ts';

/** Promise form of `networkservice.NetworkService` on one channel. */
export class NetworkServiceClient {
  readonly channel: Channel;
  constructor(channel: Channel) {
    this.channel = channel;
  }

  static async dial(address: string, options?: DialOptions): Promise<NetworkServiceClient> {
    return new NetworkServiceClient(await dial(address, options));
  }

  request(req: NetworkServiceRequest, options?: CallOptions): Promise<Connection> {
    return unary(this.channel, NetworkServiceDefinition, NetworkServiceDefinition.methods.request, req, options);
  }

  async close(conn: Connection, options?: CallOptions): Promise<void> {
    await unary(this.channel, NetworkServiceDefinition, NetworkServiceDefinition.methods.close, conn, options);
  }

  shutdown(): void {
    this.channel.close();
  }
}

/** Terminal client element: sends the call to the server behind `client`, bounded by `timeoutMs`. */
export function callServer(client: NetworkServiceClient, timeoutMs?: number): Element {
  return {
    name: 'call-server',
    request: (ctx, req) => client.request(req, { signal: ctx.signal, timeoutMs }),
    close: (ctx, conn) => client.close(conn, { signal: ctx.signal, timeoutMs }),
  };
}
