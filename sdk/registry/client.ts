import {
  NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointRegistryDefinition, NetworkServiceRegistryDefinition,
  type NetworkServiceEndpointResponse, type RegistryNetworkService,
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

  /** Find: the matching endpoints, then (with `watch`) every later change, until `signal` aborts. */
  findEndpoints(query: NetworkServiceEndpointQuery, options?: CallOptions): AsyncGenerator<NetworkServiceEndpointResponse> {
    return serverStream(this.channel, NetworkServiceEndpointRegistryDefinition, NetworkServiceEndpointRegistryDefinition.methods.find, query, options);
  }

  /** Find without watch: the live endpoints that match `query` now (empty fields match anything). */
  async endpointsNow(query: NetworkServiceEndpoint, options?: CallOptions): Promise<NetworkServiceEndpoint[]> {
    const found: NetworkServiceEndpoint[] = [];
    for await (const r of this.findEndpoints(NetworkServiceEndpointQuery.fromPartial({ networkServiceEndpoint: query, watch: false }), options)) {
      if (!r.deleted && r.networkServiceEndpoint) found.push(r.networkServiceEndpoint);
    }
    return found;
  }
}
