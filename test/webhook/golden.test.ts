import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { reviewAdmission } from '../../webhook/admission.ts';
import { Injector } from '../../webhook/injector.ts';
import { CASES } from '../fixtures/webhook/cases.ts';
import { testConfig } from '../fixtures/webhook/config.ts';
import { applyOps, decodePatch, testApp, validatePod } from '../fixtures/webhook/harness.ts';

// UPDATE_GOLDEN=1 npx tap test/webhook/golden.test.ts rewrites the files; review the diff by eye.
const dir = join(import.meta.dirname, '../fixtures/webhook/golden');
const update = process.env.UPDATE_GOLDEN === '1';
if (update) mkdirSync(dir, { recursive: true });

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const config = testConfig(c.env, c.native);
    const { app } = testApp(config, () => c.namespace);
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: c.review });
    t.equal(res.statusCode, 200);
    const body = res.json();
    const patch = decodePatch(body.response);
    const file = join(dir, `${c.name}.json`);
    const actual = { namespace: c.namespace ?? null, review: c.review, response: body, patch };
    if (update) writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
    const golden = JSON.parse(readFileSync(file, 'utf8'));
    t.same(actual, golden, 'matches the golden file');

    const request = (c.review as any).request;
    t.equal(body.response.uid, request.uid, 'uid echoed');
    t.notOk('request' in body, 'request not echoed back');
    t.equal('patch' in body.response, 'patchType' in body.response, 'patch and patchType together or not at all');
    if (patch === null) return;
    t.equal(body.response.patchType, 'JSONPatch');
    t.ok(patch.length > 0);
    for (const op of patch) {
      t.equal(op.op, 'add', `${op.path} is an add`);
      if (!op.path.endsWith('/-')) t.equal(valueAt(request.object, op.path), undefined, `${op.path} did not exist before (nothing overwritten)`);
    }
    const patched = applyOps(request.object, patch);
    t.doesNotThrow(() => validatePod(patched), 'patched pod passes the Kubernetes schema');
    const again = reviewAdmission({ ...request, object: patched }, () => c.namespace, new Injector(config));
    t.same(again.outcome, { decision: 'skipped', reason: 'already-injected' }, 'idempotent');
    t.notOk(again.response.patch, 'no second patch');
  });
}

function valueAt(doc: unknown, path: string): unknown {
  let at: any = doc;
  for (const raw of path.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !(key in at)) return undefined;
    at = at[key];
  }
  return at;
}
