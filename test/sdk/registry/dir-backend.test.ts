import { readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { NetworkServiceEndpoint } from '../../../proto/api.ts';
import { openDirRegistry } from '../../../sdk/registry/dir-backend.ts';
import { endpointMatchesQuery } from '../../../sdk/registry/match.ts';

t.test('one JSON file per object; another writer is seen through the watch', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nsm-reg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const reg = await openDirRegistry(dir);
  t.teardown(() => reg.close());
  await reg.endpoints.put(NetworkServiceEndpoint.fromPartial({ name: 'nse-1', networkServiceNames: ['s'], url: 'unix:///x.sock' }));
  t.same(readdirSync(join(dir, 'networkserviceendpoints')), ['nse-1.json'], 'no temporary file left');
  const other = await openDirRegistry(dir);
  t.teardown(() => other.close());
  t.equal(other.endpoints.get('nse-1')?.url, 'unix:///x.sock', 'read at open');
  const seen = new Promise<string>((resolve) => other.services.watch((c) => c.kind === 'put' && resolve(c.object.name)));
  writeFileSync(join(dir, 'networkservices', 'svc.json'), JSON.stringify({ name: 'svc', payload: 'IP' }));
  t.equal(await Promise.race([seen, new Promise<string>((r) => setTimeout(() => r('timeout'), 3000))]), 'svc');
  t.ok(await reg.endpoints.delete('nse-1'));
  t.equal(reg.endpoints.list().length, 0);
  await t.rejects(reg.services.put({ name: '../evil', payload: '', matches: [], pathIds: [] }), /may contain only/);
});

t.test('endpoint find semantics', async (t) => {
  const nse = NetworkServiceEndpoint.fromPartial({ name: 'a', networkServiceNames: ['s', 't'], networkServiceLabels: { s: { labels: { x: '1', y: '2' } } }, url: 'tcp://10.0.0.1:5001' });
  const q = (p: Partial<NetworkServiceEndpoint>) => endpointMatchesQuery(NetworkServiceEndpoint.fromPartial(p), nse);
  t.ok(q({}));
  t.ok(q({ networkServiceNames: ['t'], url: '10.0.0.1' }));
  t.ok(q({ networkServiceLabels: { s: { labels: { x: '1' } } } }));
  t.notOk(q({ networkServiceLabels: { s: { labels: { x: '2' } } } }));
  t.notOk(q({ name: 'b' }));
});
