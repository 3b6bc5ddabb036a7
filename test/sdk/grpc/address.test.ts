import t from 'tap';
import { formatAddress, grpcBindTarget, grpcTarget, parseAddress } from '../../../sdk/grpc/address.ts';

t.test('addresses in every accepted spelling', async (t) => {
  const table: Array<[string, string, string, string]> = [
    ['unix:///var/lib/networkservicemesh/nsm.io.sock', 'unix:///var/lib/networkservicemesh/nsm.io.sock', 'unix:///var/lib/networkservicemesh/nsm.io.sock', 'unix:/var/lib/networkservicemesh/nsm.io.sock'],
    ['unix:/run/x.sock', 'unix:///run/x.sock', 'unix:///run/x.sock', 'unix:/run/x.sock'],
    ['tcp://10.0.0.1:5001', 'tcp://10.0.0.1:5001', '10.0.0.1:5001', '10.0.0.1:5001'],
    ['tcp://:5001', 'tcp://:5001', '127.0.0.1:5001', '0.0.0.0:5001'],
    [':8443', 'tcp://:8443', '127.0.0.1:8443', '0.0.0.0:8443'],
    ['0.0.0.0:1', 'tcp://0.0.0.0:1', '127.0.0.1:1', '0.0.0.0:1'],
    ['[::]:5001', 'tcp://[::]:5001', '[::1]:5001', '[::]:5001'],
    ['localhost:80', 'tcp://localhost:80', 'localhost:80', 'localhost:80'],
  ];
  for (const [input, formatted, dialed, bound] of table) {
    const a = parseAddress(input);
    t.equal(formatAddress(a), formatted, `${input} format`);
    t.equal(grpcTarget(a), dialed, `${input} dial`);
    t.equal(grpcBindTarget(a), bound, `${input} bind`);
  }
});

t.test('bad addresses say what is accepted', async (t) => {
  for (const bad of ['unix://relative.sock', 'nonsense', 'tcp://host', 'host:99999', 'http://x:1']) {
    t.throws(() => parseAddress(bad), { code: 'INVALID_ARGUMENT' }, bad);
  }
  t.throws(() => parseAddress('unix:relative'), /needs an absolute path/);
});
