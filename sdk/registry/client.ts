import {
  NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointRegistryDefinition, NetworkServiceRegistryDefinition, type RegistryNetworkService,
} from '../../proto/api.ts';
import { serverStream, unary, type CallOptions, type Channel } from '../grpc/client.ts';

/** Promise form of the two registry services on one channel. */
export class RegistryClient {
  readonly channel: Channel;
  constructor(channel: Channel) {
    this.channel = channel;
  }

  registerService(ns: RegistryNetworkService, options?: CallOptions): Promise<RegistryNetworkService> {
    return unary(this.channel, NetworkServiceRegistryDefinition, NetworkServiceRegistryDefinition.methods.register, ns, options);
  }

  async unregisterService(ns: RegistryNetworkService, options?: CallOptions): Promise<void> {
    await unary(this.channel, NetworkServiceRegistryDefinition, NetworkServiceRegistryDefinition.methods.unregister, ns, options);
  }

  registerEndpoint(nse: NetworkServiceEndpoint, options?: CallOptions): Promise<NetworkServiceEndpoint> {
    return unary(this.channel, NetworkServiceEndpointRegistryDefinition, NetworkServiceEndpointRegistryDefinition.methods.register, nse, options);
  }

  async unregisterEndpoint(nse: NetworkServiceEndpoint, options?: CallOptions): Promise<void> {
    await unary(this.channel, NetworkServiceEndpointRegistryDefinition, NetworkServiceEndpointRegistryDefinition.methods.unregister, nse, options);
  }

  /** Find without watch: the live endpoints that match `query` now (empty fields match anything). */
  async findEndpoints(query: NetworkServiceEndpoint, options?: CallOptions): Promise<NetworkServiceEndpoint[]> {
    const found: NetworkServiceEndpoint[] = [];
    const req = NetworkServiceEndpointQuery.fromPartial({ networkServiceEndpoint: query, watch: false });
    for await (const r of serverStream(this.channel, NetworkServiceEndpointRegistryDefinition, NetworkServiceEndpointRegistryDefinition.methods.find, req, options)) {
      if (!r.deleted && r.networkServiceEndpoint) found.push(r.networkServiceEndpoint);
    }
    return found;
  }
}
