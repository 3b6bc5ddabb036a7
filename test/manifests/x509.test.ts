import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { makeFuncs } from '../../manifests/render/funcs.ts';
import { createCertificate } from '../../manifests/render/x509.ts';
import { Struct } from '../../manifests/render/values.ts';

const funcs = makeFuncs({});
const ca = funcs.genCA?.('test-ca', 30) as Struct;
const leaf = funcs.genSignedCert?.('svc.ns.svc', ['10.0.0.1'], ['svc', 'svc.ns.svc'], 30, ca) as Struct;
const caPem = ca.fields.Cert as string;
const leafPem = leaf.fields.Cert as string;

t.test('genCA makes a CA certificate', async (t) => {
  const cert = new X509Certificate(caPem);
  t.ok(cert.ca, 'basic constraints CA');
  t.match(cert.subject, /CN=test-ca/);
  t.ok(cert.verify(cert.publicKey), 'self-signed');
  t.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
  t.ok(Math.abs(days - 30) < 1, 'valid for the requested days');
  t.match(ca.fields.Key as string, /^-----BEGIN RSA PRIVATE KEY-----\n/, 'PKCS#1 key, as Sprig writes it');
});

t.test('genSignedCert makes a leaf signed by the CA with the SANs', async (t) => {
  const cert = new X509Certificate(leafPem);
  const issuer = new X509Certificate(caPem);
  t.notOk(cert.ca);
  t.ok(cert.checkIssued(issuer), 'issued by the CA');
  t.ok(cert.verify(issuer.publicKey), 'signature verifies');
  t.equal(cert.subjectAltName, 'DNS:svc, DNS:svc.ns.svc, IP Address:10.0.0.1');
  t.equal(cert.checkHost('svc.ns.svc'), 'svc.ns.svc');
  t.equal(cert.checkIP('10.0.0.1'), '10.0.0.1');
  t.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'server auth');
  t.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'client auth');
  t.ok(cert.checkPrivateKey(createPrivateKey(leaf.fields.Key as string)), 'key matches');
});

t.test('a TLS client trusting only the CA accepts a server using the leaf', async (t) => {
  const server = tls.createServer({ cert: leafPem, key: leaf.fields.Key as string }, (s) => s.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'svc.ns.svc', ca: caPem });
  const [data] = (await once(socket, 'data')) as [Buffer];
  t.equal(data.toString(), 'ok');
  socket.destroy();
});

t.test('a TLS client rejects a server certificate from another CA', async (t) => {
  const other = funcs.genCA?.('other', 1) as Struct;
  const server = tls.createServer({ cert: leafPem, key: leaf.fields.Key as string });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'svc.ns.svc', ca: other.fields.Cert as string });
  const [err] = (await once(socket, 'error')) as [Error & { code?: string }];
  t.match(err.code, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
});

t.test('genSignedCert refuses a CA that genCA did not make', async (t) => {
  t.throws(() => funcs.genSignedCert?.('x', null, [], 1, { Cert: caPem }), /needs a CA made by genCA/);
});

t.test('IPv6 SANs and validity past 2049', async (t) => {
  const c = createCertificate({ cn: 'x', days: 3650, isCA: false, ips: ['::1', 'fd00::1:2', '::', '1:2:3:4:5:6:7:8', '::ffff:10.0.0.1'], now: new Date('2045-01-01T00:00:00Z') });
  const cert = new X509Certificate(c.cert);
  t.equal(cert.subjectAltName, 'IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:0:0:0, IP Address:1:2:3:4:5:6:7:8, IP Address:0:0:0:0:0:FFFF:A00:1');
  t.equal(new Date(cert.validTo).getUTCFullYear(), 2054, 'GeneralizedTime after 2049');
  t.throws(() => createCertificate({ cn: 'x', days: 0.5, isCA: true }), /positive integer/);
});
