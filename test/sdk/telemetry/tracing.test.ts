import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import t from 'tap';
import { Connection, kernelMechanism } from '../../../proto/api.ts';
import { startForwarder } from '../../../forwarder/server.ts';
import { NetworkServiceClient } from '../../../sdk/grpc/networkservice-client.ts';
import { silentLogger } from '../../../sdk/log.ts';
import { formatInodeUrl } from '../../../sdk/netns.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { startTracing, useTracerProvider } from '../../../sdk/telemetry/tracing.ts';
import { startEndpoint } from '../../../sidecar/nse/endpoint.ts';
import { p2pElements } from '../../../sidecar/nse/p2p/mode.ts';
import { MemifIds } from '../../../sidecar/nse/p2p/memif-ids.ts';
import { PointToPointPool } from '../../../sidecar/nse/p2p/point-to-point-pool.ts';
import { RecordingRunner } from '../../fixtures/kernel.ts';
import { tempDir, waitFor } from '../../fixtures/netns.ts';

const tunnels = { underlay: { ip: '127.0.0.1', ifname: 'lo', mtu: 65536 }, vxlanPort: 4789, order: ['VXLAN' as const], linkTypes: { vxlan: { available: true } } };

t.test('tracing is off without the OTLP environment', async (t) => {
  t.equal(await startTracing('nsm-test', {}), undefined);
});

t.test('a collector that refuses the spans, or does not answer, loses the last spans but never the exit', async (t) => {
  const silent = createServer(() => {}); // accepts, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const posted: string[] = [];
  const refusing = createServer((req, res) => {
    posted.push(`${req.method} ${req.url}`);
    res.writeHead(400).end('not today');
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
    refusing.close();
    useTracerProvider(undefined);
    trace.disable();
    context.disable();
    propagation.disable();
  });
  const portOf = (s: typeof silent) => (s.address() as AddressInfo).port;
  for (const [what, port, said] of [['refusing', portOf(refusing), /Bad Request/], ['silent', portOf(silent), /did not take them within 300 ms/]] as const) {
    const traces = await startTracing('nsm-test', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    t.ok(traces, `${what}: tracing on`);
    trace.getTracer('test').startSpan('unsent').end();
    t.match(await traces!.shutdown(300), said, `${what}: shutdown says why the spans were lost`);
    trace.disable();
  }
  t.same(posted, ['POST /v1/traces'], 'spans are posted under the OTLP endpoint\'s /v1/traces');
});

t.test('one Request is one trace: the client, both forwarders and the endpoint, each hop carried in gRPC metadata', async (t) => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  useTracerProvider(provider);
  t.teardown(async () => {
    useTracerProvider(undefined);
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  const dir = tempDir(t, 'trace');
  const registry = await openDirRegistry(join(dir, 'registry'));
  t.teardown(() => registry.close());
  const forwarder = async (name: string) => {
    const f = await startForwarder({
      name, listenOn: `unix://${join(dir, `${name}.sock`)}`, registry, runner: new RecordingRunner(), log: silentLogger(),
      connectionLifetimeMs: 60_000, registrationLifetimeMs: 60_000, dialTimeoutMs: 1000, requestTimeoutMs: 5000, adopt: false,
      memifDir: join(dir, `memif-${name}`), peering: { listenOn: 'tcp://127.0.0.1:0', tunnels },
    });
    t.teardown(() => f.stop());
    return f;
  };
  await forwarder('node-a');
  await forwarder('node-b');
  const endpoint = await startEndpoint({
    name: 'traced-ep', services: ['traced'], labels: {}, payload: 'ETHERNET', connectTo: `unix://${join(dir, 'node-b.sock')}`,
    listenOn: `unix://${join(dir, 'ep.sock')}`, connectionLifetimeMs: 60_000, dialTimeoutMs: 1000, log: silentLogger(),
  }, { elements: p2pElements(new PointToPointPool('10.77.0.0/24'), new MemifIds()), describe: {} });
  t.teardown(() => endpoint.stop());
  await endpoint.registered;
  await waitFor('node-a sees the endpoint', () => registry.endpoints.get('traced-ep'));

  const client = await NetworkServiceClient.dial(`unix://${join(dir, 'node-a.sock')}`);
  t.teardown(() => client.shutdown());
  const own = statSync('/proc/self/ns/net');
  exporter.reset();
  const conn = await client.request({
    connection: Connection.fromPartial({ id: 'traced-0', networkService: 'traced', path: { index: 0, pathSegments: [{ name: 'traced', id: 'traced-0' }] } }),
    mechanismPreferences: [kernelMechanism({ name: 'nsm-1', inodeURL: formatInodeUrl({ dev: own.dev, ino: own.ino }) })],
  });
  t.equal(conn.networkServiceEndpointName, 'traced-ep');
  const spans = exporter.getFinishedSpans();
  const traces = new Set(spans.map((s) => s.spanContext().traceId));
  t.equal(traces.size, 1, `one trace (${spans.length} spans)`);
  const names = spans.map((s) => s.name);
  const servers = spans.filter((s) => s.name === 'networkservice.NetworkService/Request' && s.kind === SpanKind.SERVER);
  t.equal(servers.length, 3, 'served three times: by node-a, by node-b (from the peer) and by the endpoint');
  for (const n of ['tunnel-client request', 'tunnel-endpoint request', 'assign-addresses request', 'kernel-answer request', 'negotiate request']) t.ok(names.includes(n), `a span for ${n}`);
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const root = spans.filter((s) => !s.parentSpanContext || !byId.has(s.parentSpanContext.spanId));
  t.same(root.map((s) => [s.name, s.kind]), [['networkservice.NetworkService/Request', SpanKind.CLIENT]], 'the one root is the client\'s call');
  t.ok(spans.filter((s) => s.name.endsWith(' request')).every((s) => s.attributes['nsm.connection.id']), 'element spans carry the connection id');
});
