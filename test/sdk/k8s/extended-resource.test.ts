import t from 'tap';
import { extendedResourceProblem } from '../../../sdk/k8s/extended-resource.ts';

t.test('names the kubelet registers', async (t) => {
  for (const ok of ['nsm.example.com/radio', 'worker.domain/10G', 'intel.com/sriov_netdevice', 'a/b', 'x.io/a.b-c_d']) t.equal(extendedResourceProblem(ok), undefined, ok);
});

t.test('names the kubelet refuses, each with what is wrong', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['sriov.nsm.xyz.io', /write it <domain>\/<name>/],
    ['a/b/c', /write it <domain>\/<name>/],
    ['kubernetes.io/radio', /kubernetes\.io domain/],
    ['node.kubernetes.io/radio', /kubernetes\.io domain/],
    ['requests.example.com/radio', /starts with "requests\."/],
    ['Example.com/radio', /domain "Example\.com" is not a DNS subdomain/],
    ['/radio', /domain "" is not a DNS subdomain/],
    [`${'a'.repeat(250)}.com/radio`, /not a DNS subdomain/],
    ['example.com/', /name "" must be 1-63/],
    ['example.com/-radio', /name "-radio" must be/],
    [`example.com/${'r'.repeat(64)}`, /must be 1-63/],
  ];
  for (const [name, why] of cases) t.match(extendedResourceProblem(name), why, name);
});
