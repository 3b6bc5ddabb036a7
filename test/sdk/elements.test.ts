import t from 'tap';
import { Connection } from '../../proto/api.ts';
import { advancePath, updatePath } from '../../sdk/elements/update-path.ts';
import { selectorMatches } from '../../sdk/elements/monitor.ts';
import { chain, newCtx } from '../../sdk/chain/index.ts';
import { silentLogger } from '../../sdk/log.ts';

t.test('updatepath: first hop, next hop, refresh keeps the id, restore on return', async (t) => {
  const first = advancePath(Connection.fromPartial({ id: 'c-0' }), 'nsc');
  t.same([first.id, first.path?.index, first.path?.pathSegments.map((s) => s.name)], ['c-0', 0, ['nsc']]);
  const fwd = advancePath(first, 'fwd');
  t.equal(fwd.path?.index, 1);
  t.not(fwd.id, 'c-0', 'each hop has its own id');
  const refreshed = advancePath({ ...fwd, id: 'c-0', path: { index: 0, pathSegments: fwd.path!.pathSegments } }, 'fwd');
  t.equal(refreshed.id, fwd.id, 'a refresh reuses the hop id');
  let seen = '';
  const server = chain([updatePath('fwd'), { name: 'probe', request: async (_c, r) => ((seen = r.connection!.id), r.connection!) }], { trace: false });
  const back = await server.request(newCtx(silentLogger()), { connection: first, mechanismPreferences: [] });
  t.not(seen, 'c-0');
  t.same([back.id, back.path?.index, back.path?.pathSegments.length], ['c-0', 0, 2]);
});

t.test('monitor selector: services OR, contiguous path segments with wildcards', async (t) => {
  const conn = Connection.fromPartial({ networkService: 's', path: { pathSegments: [{ name: 'a', id: '1' }, { name: 'b', id: '2' }, { name: 'c', id: '3' }] } });
  t.ok(selectorMatches({ pathSegments: [], networkServices: [] }, conn));
  t.ok(selectorMatches({ pathSegments: [{ name: 'b', id: '', token: '', metrics: {} }, { name: '', id: '3', token: '', metrics: {} }], networkServices: ['x', 's'] }, conn));
  t.notOk(selectorMatches({ pathSegments: [{ name: 'a', id: '', token: '', metrics: {} }, { name: 'c', id: '', token: '', metrics: {} }], networkServices: [] }, conn));
  t.notOk(selectorMatches({ pathSegments: [], networkServices: ['x'] }, conn));
});
