import fc from 'fast-check';
import t from 'tap';
import { dns1123Label, imageBaseName, uniqueName } from '../../webhook/names.ts';

const DNS1123 = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

t.test('image base names', async (t) => {
  t.equal(imageBaseName('ghcr.io/networkservicemesh/cmd-nsc:v1.14.0'), 'cmd-nsc');
  t.equal(imageBaseName('registry:5000/cmd-nsc@sha256:abc'), 'cmd-nsc');
  t.equal(imageBaseName('registry:5000/org/cmd-nsc:v1@sha256:abc'), 'cmd-nsc');
  t.equal(imageBaseName('nginx'), 'nginx');
});

t.test('any image gives a valid, unique DNS-1123 container name', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), fc.array(fc.string({ maxLength: 70 }), { maxLength: 5 }), (image, existing) => {
      const taken = new Set(existing.map((e) => dns1123Label(e)));
      const before = new Set(taken);
      const a = uniqueName(imageBaseName(image), taken);
      const b = uniqueName(imageBaseName(image), taken);
      return DNS1123.test(a) && DNS1123.test(b) && a !== b && !before.has(a) && !before.has(b);
    }),
    { numRuns: 500 },
  );
  t.equal(uniqueName('x'.repeat(80), new Set(['x'.repeat(63)])), `${'x'.repeat(61)}-2`);
});
