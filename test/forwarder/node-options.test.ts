import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FORWARDER_NODE_OPTIONS } from '../../forwarder/node-options.ts';
import { ROOT } from '../fixtures/netns.ts';

t.test('the image and the chart run the forwarder with the V8 limits bench:churn measures', async (t) => {
  t.match(readFileSync(join(ROOT, 'Dockerfile.sidecar'), 'utf8'), `ENV NODE_OPTIONS="${FORWARDER_NODE_OPTIONS}"`);
  const daemonset = readFileSync(join(ROOT, 'manifests/helm/nsm/templates/forwarder-daemonset.yaml'), 'utf8');
  t.match(daemonset, `- name: NODE_OPTIONS\n              value: "${FORWARDER_NODE_OPTIONS}"`);
});
