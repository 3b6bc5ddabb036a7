import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPoolFile, parsePoolFile } from '../../../forwarder/device-pools/config.ts';
import { isNsmError } from '../../../sdk/errors.ts';

const parse = (text: string) => parsePoolFile(text, 'pools.yaml');
const refusal = (text: string) => {
  try {
    parse(text);
  } catch (err) {
    return err;
  }
  return undefined;
};

t.test('the file of the contract', async (t) => {
  const pools = parse(`
pools:
  - resource: nsm.example.com/radio   # extended resource name advertised to the kubelet
    service: radio
    devices: [radio0, radio1]
    cidrPrefix: 10.63.0.0/24
    excludePrefixes: [10.63.0.254/32]
  - resource: nsm.example.com/lab
    service: lab
    devices: [lab0]
    routes: [{ prefix: 10.64.0.0/16 }]
    mtu: 1400
`);
  t.same(pools, [
    { resource: 'nsm.example.com/radio', service: 'radio', devices: ['radio0', 'radio1'], cidrPrefix: '10.63.0.0/24', excludePrefixes: ['10.63.0.254/32'], routes: [] },
    { resource: 'nsm.example.com/lab', service: 'lab', devices: ['lab0'], excludePrefixes: [], routes: [{ prefix: '10.64.0.0/16' }], mtu: 1400 },
  ]);
  t.same(parse('pools: []'), [], 'no pools');
  t.same(loadPoolFile(''), [], 'no file, no pools');
  t.same(parse('pools:\n  - {resource: a.io/r, service: r, devices: [r0], cidrPrefix: 10.0.0.0/24, routes: [{prefix: 0.0.0.0/0, nextHop: 10.0.0.1}]}')[0].routes, [{ prefix: '0.0.0.0/0', nextHop: '10.0.0.1' }]);
});

t.test('every mistake is refused naming the file, the pool and the field', async (t) => {
  const one = (fields: string) => `pools:\n  - ${fields}`;
  const base = 'resource: nsm.example.com/radio, service: radio, devices: [radio0]';
  const cases: Array<[string, RegExp]> = [
    ['pools: [', /^NSM_DEVICE_POOLS pools\.yaml: not valid YAML: /],
    ['radio0', /expected a mapping with a list of pools, such as\npools:/],
    ['pools: {}', /expected a mapping with a list of pools/],
    ['pools: []\nextra: 1', /extra is not a field of the file/],
    [one('radio0'), /: pools\[0\]: is not a mapping/],
    [one('{service: radio, devices: [radio0]}'), /: pools\[0\]: resource is missing/],
    [one('{resource: sriov.nsm.xyz.io, service: radio, devices: [radio0]}'), /: pool sriov\.nsm\.xyz\.io \(pools\[0\]\): resource "sriov\.nsm\.xyz\.io" is not an extended resource name: write it <domain>\/<name>/],
    [one('{resource: kubernetes.io/radio, service: radio, devices: [radio0]}'), /pool kubernetes\.io\/radio \(pools\[0\]\): resource .*kubernetes\.io domain/],
    [one('{resource: nsm.example.com/radio, devices: [radio0]}'), /pool nsm\.example\.com\/radio \(pools\[0\]\): service is missing/],
    [one('{resource: nsm.example.com/radio, service: "bad name", devices: [radio0]}'), /\(pools\[0\]\): service: service name "bad name" may contain only/],
    [one('{resource: nsm.example.com/radio, service: radio}'), /\(pools\[0\]\): devices is empty/],
    [one('{resource: nsm.example.com/radio, service: radio, devices: radio0}'), /\(pools\[0\]\): devices is not a list/],
    [one('{resource: nsm.example.com/radio, service: radio, devices: [radio0, "a/b"]}'), /\(pools\[0\]\): devices\[1\] "a\/b": interface name "a\/b" contains "\/"/],
    [one('{resource: nsm.example.com/radio, service: radio, devices: [averyveryverylongname]}'), /devices\[0\] "averyveryverylongname": .* Linux allows at most 15/],
    [one('{resource: nsm.example.com/radio, service: radio, devices: [radio0, radio0]}'), /devices\[1\] "radio0" is listed twice/],
    [one(`{${base}, cidrPrefix: 10.63.0.0}`), /\(pools\[0\]\): cidrPrefix "10\.63\.0\.0" is not an address with a prefix length/],
    [one(`{${base}, excludePrefixes: [10.63.0.254/32]}`), /excludePrefixes\[0\]: excludePrefixes needs a cidrPrefix/],
    [one(`{${base}, cidrPrefix: 10.63.0.0/24, excludePrefixes: [fd00::1/128]}`), /excludePrefixes\[0\] fd00::1\/128 is not of the family of cidrPrefix/],
    [one(`{${base}, cidrPrefix: 10.63.0.0/24, routes: [{prefix: 10.64.0.0/16, nextHop: 10.99.0.1}]}`), /routes\[0\]\.nextHop 10\.99\.0\.1 is not on the pool's network/],
    [one(`{${base}, routes: [{prefix: 10.64.0.0/16, via: 10.63.0.1}]}`), /routes\[0\]\.via is not a field of a route/],
    [one(`{${base}, routes: [10.64.0.0/16]}`), /routes\[0\] is not a mapping with prefix/],
    [one(`{${base}, mtu: 20}`), /\(pools\[0\]\): mtu 20 is not a whole number from 68 to 65535/],
    [one(`{${base}, vlan: 7}`), /\(pools\[0\]\): vlan is not a field of a pool/],
    [`pools:\n  - {${base}}\n  - {resource: nsm.example.com/radio, service: other, devices: [radio1]}`, /pool nsm\.example\.com\/radio \(pools\[1\]\): resource nsm\.example\.com\/radio is also the resource of pools\[0\]/],
    [`pools:\n  - {${base}}\n  - {resource: nsm.example.com/lab, service: lab, devices: [lab0, radio0]}`, /pool nsm\.example\.com\/lab \(pools\[1\]\): devices\[1\] radio0 is also a device of pool nsm\.example\.com\/radio \(pools\[0\]\)/],
  ];
  for (const [text, why] of cases) {
    const err = refusal(text);
    t.ok(isNsmError(err, 'INVALID_ARGUMENT'), text);
    t.match((err as Error).message, why, text);
  }
});

t.test('a file that cannot be read is named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pools-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadPoolFile(join(dir, 'missing.yaml')), /NSM_DEVICE_POOLS .*missing\.yaml: cannot read it: ENOENT/);
  writeFileSync(join(dir, 'p.yaml'), 'pools:\n  - {resource: a.io/r, service: r, devices: [r0]}\n');
  t.same(loadPoolFile(join(dir, 'p.yaml')).map((p) => p.resource), ['a.io/r']);
});
