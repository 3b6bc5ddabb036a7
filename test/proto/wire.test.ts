import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Connection, NetworkServiceEndpoint } from '../../proto/api.ts';

const protoc = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
const skip = protoc.status === 0 ? false : 'protoc not installed (apt-get install protobuf-compiler libprotobuf-dev)';

const includes = ['-I', 'proto', '-I', '/usr/include'];
const decode = (type: string, file: string, bytes: Uint8Array) => execFileSync('protoc', [...includes, `--decode=${type}`, file], { input: bytes, encoding: 'utf8' });
const encode = (type: string, file: string, text: string) => new Uint8Array(execFileSync('protoc', [...includes, `--encode=${type}`, file], { input: text }));
const fixture = (name: string) => readFileSync(`test/fixtures/wire/${name}`, 'utf8');

const connection = Connection.fromPartial({
  id: 'alpine-0',
  networkService: 'kernel2kernel',
  mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { inodeURL: 'inode://4/4026532001', name: 'nsm-1' } },
  context: {
    ipContext: {
      srcIpAddrs: ['172.16.1.3/32'], dstIpAddrs: ['172.16.1.2/32'], srcIpRequired: true, dstIpRequired: true,
      srcRoutes: [{ prefix: '172.16.1.2/32' }], dstRoutes: [{ prefix: '172.16.1.3/32', nextHop: '172.16.1.3' }],
      excludedPrefixes: ['10.96.0.0/16'], ipNeighbors: [{ ip: '172.16.1.2', hardwareAddress: '02:fe:00:00:00:01' }],
      extraPrefixRequest: [{ addrFamily: { family: 1 }, prefixLen: 64, requiredNumber: 1, requestedNumber: 2 }],
      extraPrefixes: ['10.10.0.0/24'],
      policies: [{ from: '172.16.1.3/32', proto: '6', dstPort: '80-90', srcPort: '1000', routes: [{ prefix: '0.0.0.0/0', nextHop: '172.16.1.2' }] }],
    },
    dnsContext: { configs: [{ dnsServerIps: ['10.96.0.10'], searchDomains: ['svc.cluster.local'] }] },
    ethernetContext: { srcMac: '02:fe:00:00:00:02', dstMac: '02:fe:00:00:00:01', vlanTag: 100 },
    extraContext: { k: 'v' },
    MTU: 1450,
  },
  labels: { podName: 'alpine' },
  path: {
    index: 1,
    pathSegments: [
      { name: 'alpine', id: 'alpine-0', token: 't0', expires: new Date(1893456000123), metrics: { client_interface: 'KERNEL/nsm-1' } },
      { name: 'forwarder-node1', id: '3f1c', token: 't1', expires: new Date(1893456060000) },
    ],
  },
  networkServiceEndpointName: 'nse-kernel-1',
  payload: 'ETHERNET',
  state: 2,
});

const nse = NetworkServiceEndpoint.fromPartial({
  name: 'nse-kernel-1',
  networkServiceNames: ['kernel2kernel', 'icmp'],
  networkServiceLabels: { kernel2kernel: { labels: { app: 'icmp-responder' } } },
  url: 'tcp://10.0.0.7:5001',
  expirationTime: new Date(Date.UTC(2030, 0, 1)),
  initialRegistrationTime: new Date(1700000000000),
  pathIds: ['spiffe://k8s.nsm/ns/default/pod/nse'],
});
// nanos: 5 cannot be held by a millisecond Date; protoc's side keeps it, ours rounds it away.
const nseFromText = { ...nse, expirationTime: new Date(1893456000000) };

t.test('connection.Connection: our bytes decode with protoc against our .proto, and back', { skip }, async (t) => {
  const text = decode('connection.Connection', 'networkservice/connection.proto', Connection.encode(connection).finish());
  for (const line of ['network_service: "kernel2kernel"', 'nextHop: "172.16.1.3"', 'MTU: 1450', 'network_service_endpoint_name: "nse-kernel-1"', 'state: REFRESH_REQUESTED', 'family: IPV6', 'seconds: 1893456000', 'nanos: 123000000', 'hardware_address: "02:fe:00:00:00:01"']) {
    t.match(text, line);
  }
  t.same(Connection.decode(encode('connection.Connection', 'networkservice/connection.proto', text)), connection, 'protoc re-encodes what it decoded into the same message');
});

t.test('connection.Connection: protoc --encode of a text fixture decodes with our code', { skip }, async (t) => {
  const bytes = encode('connection.Connection', 'networkservice/connection.proto', fixture('connection.txtpb'));
  t.same(Connection.decode(bytes), connection);
});

t.test('registry.NetworkServiceEndpoint both ways', { skip }, async (t) => {
  const text = decode('registry.NetworkServiceEndpoint', 'registry/registry.proto', NetworkServiceEndpoint.encode(nse).finish());
  for (const line of ['network_service_names: "icmp"', 'url: "tcp://10.0.0.7:5001"', 'key: "kernel2kernel"', 'path_ids: "spiffe://k8s.nsm/ns/default/pod/nse"']) t.match(text, line);
  t.same(NetworkServiceEndpoint.decode(encode('registry.NetworkServiceEndpoint', 'registry/registry.proto', text)), nse);
  const fromFixture = NetworkServiceEndpoint.decode(encode('registry.NetworkServiceEndpoint', 'registry/registry.proto', fixture('nse.txtpb')));
  t.same(fromFixture, nseFromText);
});
