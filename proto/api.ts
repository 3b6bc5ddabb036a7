export {
  Connection, ConnectionEvent, ConnectionEventType, Mechanism, MonitorConnectionDefinition, MonitorScopeSelector, Path,
  PathSegment, State,
} from './gen/networkservice/connection.ts';
export {
  ConnectionContext, DNSConfig, DNSContext, EthernetContext, ExtraPrefixRequest, IPContext, IpFamily, IpFamily_Family,
  IpNeighbor, PolicyRoute, Route,
} from './gen/networkservice/connectioncontext.ts';
export { NetworkServiceDefinition, NetworkServiceRequest } from './gen/networkservice/networkservice.ts';
export type { DeepPartial, MessageFns } from './gen/networkservice/connection.ts';
export {
  NetworkService as RegistryNetworkService,
  NetworkServiceEndpoint,
  NetworkServiceLabels,
  NetworkServiceQuery,
  NetworkServiceEndpointQuery,
  NetworkServiceResponse,
  NetworkServiceEndpointResponse,
  NetworkServiceRegistryDefinition,
  NetworkServiceEndpointRegistryDefinition,
  Match,
  Destination,
  Metadata as MatchMetadata,
} from './gen/registry/registry.ts';
export { Empty } from './gen/google/protobuf/empty.ts';
export * from './mechanisms.ts';
export * from './nsurl.ts';
export * from './path.ts';
