import t from 'tap';
import { Connection, NetworkServiceEndpoint, RegistryNetworkService, type NetworkServiceRequest } from '../../../proto/api.ts';
import { chain, metadata, newCtx, type Element } from '../../../sdk/chain/index.ts';
import { NsmError, isNsmError } from '../../../sdk/errors.ts';
import { silentLogger } from '../../../sdk/log.ts';
import type { ObjectStore, RegistryBackend } from '../../../sdk/registry/types.ts';
import { discover } from '../../../forwarder/elements/discover.ts';
import { endpointKey, preferLocal, rotate, roundRobin } from '../../../forwarder/elements/roundrobin.ts';

function store<T extends { name: string }>(items: T[]): ObjectStore<T> {
  const m = new Map(items.map((i) => [i.name, i]));
  return {
    put: async (o) => (m.set(o.name, o), o), delete: async (n) => m.delete(n), get: (n) => m.get(n), list: () => [...m.values()], watch: () => () => {},
  };
}

const nse = (name: string, labels: Record<string, string> = {}, expired = false) => NetworkServiceEndpoint.fromPartial({
  name, networkServiceNames: ['svc'], networkServiceLabels: { svc: { labels } }, url: `unix:///${name}.sock`,
  expirationTime: new Date(Date.now() + (expired ? -1000 : 60_000)),
});

function setup(endpoints: NetworkServiceEndpoint[], failing: string[] = [], ns = RegistryNetworkService.fromPartial({ name: 'svc', payload: 'ETHERNET' })) {
  const registry: RegistryBackend = { services: store([ns]), endpoints: store(endpoints), close: async () => {} };
  const reached: string[] = [];
  const endpoint: Element = {
    name: 'endpoint',
    request: async (ctx, req) => {
      const name = endpointKey.get(ctx)!.name;
      reached.push(name);
      if (failing.includes(name)) throw new NsmError('UNAVAILABLE', `${name} is down`);
      return req.connection!;
    },
  };
  const server = chain([metadata(), discover(registry), roundRobin(), endpoint], { trace: false });
  const req = (labels: Record<string, string> = {}, service = 'svc'): NetworkServiceRequest => ({
    connection: Connection.fromPartial({ id: `c${Math.random()}`, networkService: service, labels }), mechanismPreferences: [],
  });
  return { server, reached, req, ctx: newCtx(silentLogger()) };
}

t.test('round robin rotates over the endpoints of a service', async (t) => {
  const { server, req, ctx } = setup([nse('a'), nse('b'), nse('c')]);
  const names: string[] = [];
  for (let i = 0; i < 6; i++) names.push((await server.request(ctx, req())).networkServiceEndpointName);
  t.same(names, ['a', 'b', 'c', 'a', 'b', 'c']);
});

t.test('a failing endpoint is skipped', async (t) => {
  const { server, req, ctx, reached } = setup([nse('a'), nse('b')], ['a']);
  t.equal((await server.request(ctx, req())).networkServiceEndpointName, 'b');
  t.same(reached, ['a', 'b']);
});

t.test('when all fail, the error names each endpoint', async (t) => {
  const { server, req, ctx } = setup([nse('a'), nse('b')], ['a', 'b']);
  const err = await server.request(ctx, req()).catch((e: unknown) => e);
  t.ok(isNsmError(err, 'UNAVAILABLE'));
  t.match((err as Error).message, /all 2 endpoints of "svc" failed: a: a is down; b: b is down/);
});

t.test('expired registrations are not candidates; payload comes from the service', async (t) => {
  const { server, req, ctx } = setup([nse('old', {}, true), nse('new')]);
  const conn = await server.request(ctx, req());
  t.equal(conn.networkServiceEndpointName, 'new');
  t.equal(conn.payload, 'ETHERNET');
});

t.test('no endpoint / unknown service / no label match say which', async (t) => {
  const none = setup([]);
  t.match(await none.server.request(none.ctx, none.req()).catch((e: Error) => e.message), /no endpoint registered for network service "svc"/);
  t.match(await none.server.request(none.ctx, none.req({}, 'other')).catch((e: Error) => e.message), /network service "other" is not registered/);
});

t.test('matches: source selector picks the route, templates read connection labels, fallthrough goes on', async (t) => {
  const ns = RegistryNetworkService.fromPartial({
    name: 'svc',
    matches: [
      { sourceSelector: { app: 'firewall' }, routes: [{ destinationSelector: { role: 'fw' } }] },
      { sourceSelector: {}, routes: [{ destinationSelector: { node: '{{.nodeName}}' } }], fallthrough: true },
      { sourceSelector: {}, routes: [{ destinationSelector: { role: 'default' } }] },
    ],
  });
  const eps = [nse('fw', { role: 'fw' }), nse('n1', { node: 'node-1' }), nse('dflt', { role: 'default' })];
  const s = setup(eps, [], ns);
  t.equal((await s.server.request(s.ctx, s.req({ app: 'firewall' }))).networkServiceEndpointName, 'fw');
  t.equal((await s.server.request(s.ctx, s.req({ nodeName: 'node-1' }))).networkServiceEndpointName, 'n1');
  t.equal((await s.server.request(s.ctx, s.req({ nodeName: 'node-9' }))).networkServiceEndpointName, 'dflt', 'fallthrough to the next match');
});

t.test('a refresh goes to the endpoint already chosen', async (t) => {
  const { server, req, ctx } = setup([nse('a'), nse('b')]);
  const first = await server.request(ctx, req());
  for (let i = 0; i < 3; i++) t.equal((await server.request(ctx, { connection: first, mechanismPreferences: [] })).networkServiceEndpointName, first.networkServiceEndpointName);
});

t.test('rotate', async (t) => {
  t.same(rotate([1, 2, 3], 4), [2, 3, 1]);
  t.same(rotate([], 1), []);
});

t.test('endpoints on this node come first, each group in round robin; another node only when none here answers', async (t) => {
  const remote = (name: string) => ({ ...nse(name), url: 'tcp://192.168.0.9:5001' });
  const { server, req, ctx } = setup([remote('far-1'), nse('near-1'), remote('far-2'), nse('near-2')]);
  const names: string[] = [];
  for (let i = 0; i < 4; i++) names.push((await server.request(ctx, req())).networkServiceEndpointName);
  t.same(names, ['near-1', 'near-2', 'near-1', 'near-2'], 'the local ones, in turn');
  const down = setup([remote('far-1'), nse('near-1'), remote('far-2')], ['near-1']);
  t.equal((await down.server.request(down.ctx, down.req())).networkServiceEndpointName, 'far-1', 'the local one failed: another node\'s');
  t.same(down.reached, ['near-1', 'far-1']);
  t.same(preferLocal([remote('a'), nse('b'), remote('c'), nse('d')], 1).map((e) => e.name), ['d', 'b', 'c', 'a'], 'each group rotated by the counter');
});
