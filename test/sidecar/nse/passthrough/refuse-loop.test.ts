import t from 'tap';
import { Connection } from '../../../../proto/api.ts';
import { chain, newCtx } from '../../../../sdk/chain/index.ts';
import { updatePath } from '../../../../sdk/elements/update-path.ts';
import { silentLogger } from '../../../../sdk/log.ts';
import { recorder } from '../../../fixtures/chain-probes.ts';
import { refuseLoop } from '../../../../sidecar/nse/passthrough/refuse-loop.ts';

const request = (names: string[]) => ({
  connection: Connection.fromPartial({ id: 'x', networkService: 'chain', path: { index: names.length - 1, pathSegments: names.map((name, i) => ({ name, id: `id-${i}` })) } }),
  mechanismPreferences: [],
});

t.test('a passthrough earlier on the path is a loop: refused before the rest of the chain, naming the hops', async (t) => {
  const seen: string[] = [];
  const c = chain([updatePath('fw'), refuseLoop('fw'), recorder('rest', seen)], { trace: false });
  const ctx = newCtx(silentLogger());
  await c.request(ctx, request(['client', 'node1']));
  t.same(seen, ['rest>', '<rest'], 'the first time through it goes on');
  seen.length = 0;
  await t.rejects(c.request(ctx, request(['client', 'node1', 'fw', 'node1'])), {
    code: 'FAILED_PRECONDITION',
    message: /route passthrough fw back to itself \(client → node1 → fw → node1 → fw\)/,
  });
  t.same(seen, [], 'nothing after it saw the looping request');
  await c.request(ctx, request(['client', 'node1', 'inspect', 'node2']));
  t.same(seen, ['rest>', '<rest'], 'another passthrough before it is no loop');
});
