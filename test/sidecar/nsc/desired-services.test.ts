import t from 'tap';
import { parseNsUrl } from '../../../proto/api.ts';
import { formatDownwardMap } from '../../../sdk/k8s/downward-api.ts';
import { changeProblem, desiredServices, sameUrl } from '../../../sidecar/nsc/desired-services.ts';
import type { KeptConnection } from '../../../sidecar/nsc/kept-connection.ts';

const KEY = 'networkservicemesh.io';
const file = (annotations: Record<string, string>) => formatDownwardMap(annotations);
const urlsOf = (d: ReturnType<typeof desiredServices>) => ('urls' in d ? d.urls.map((u) => `${u.service}/${u.ifname}`) : d.problem);

t.test('the services asked for: the annotation\'s value, else those the pod was created with', async (t) => {
  const created = 'kernel://a/nsm-1';
  t.same(urlsOf(desiredServices(undefined, KEY, created)), ['a/nsm-1'], 'no annotations file yet');
  t.same(urlsOf(desiredServices(file({ other: 'x' }), KEY, created)), ['a/nsm-1'], 'the key removed (a namespace\'s services)');
  t.same(urlsOf(desiredServices(file({ [KEY]: 'kernel://b/nsm-2,kernel://c/nsm-3' }), KEY, created)), ['b/nsm-2', 'c/nsm-3']);
  t.same(desiredServices(file({ [KEY]: '' }), KEY, created), { urls: [], value: '' }, 'an empty value asks for none');
  t.same(urlsOf(desiredServices(file({ 'example.com/ns': 'kernel://d/nsm-4' }), 'example.com/ns', created)), ['d/nsm-4'], 'NSM_ANNOTATION names another key');
});

t.test('a value that cannot be followed is a problem naming the annotation, never an exception', async (t) => {
  t.match(desiredServices('not a line', KEY, ''), { problem: /^the pod's annotations file cannot be read: / });
  t.match(desiredServices(file({ [KEY]: 'kernel://bad service/x' }), KEY, ''), { problem: /^annotation networkservicemesh\.io: network service URL "kernel:\/\/bad service\/x": service name "bad service"/ });
  t.match(desiredServices(file({ [KEY]: 'kernel://a/nsm-1,kernel://b/nsm-1' }), KEY, ''), { problem: /^annotation networkservicemesh\.io: .*nsm-1/ }, 'one interface twice');
});

t.test('sameUrl compares everything a URL asks for', async (t) => {
  t.ok(sameUrl(parseNsUrl('kernel://a/nsm-1?app=x'), parseNsUrl('kernel://a/nsm-1?app=x')));
  t.notOk(sameUrl(parseNsUrl('kernel://a/nsm-1?app=x'), parseNsUrl('kernel://a/nsm-1?app=y')), 'labels');
  t.notOk(sameUrl(parseNsUrl('kernel://a/nsm-1'), parseNsUrl('kernel://b/nsm-1')), 'service');
});

t.test('changeProblem: an application\'s interface and a new device claim cannot be taken by an edit', async (t) => {
  const kept = (url: string, origin: 'annotation' | 'application', token?: string) => ({ url: parseNsUrl(url), origin, token }) as unknown as KeptConnection;
  const pool = 'kernel://radio/nsm-1?sriovToken=nsm.example.com/radio';
  t.equal(changeProblem([parseNsUrl('kernel://b/nsm-2')], [kept('kernel://a/nsm-1', 'annotation')], KEY), undefined, 'a new interface');
  t.equal(changeProblem([parseNsUrl('kernel://b/nsm-1')], [kept('kernel://a/nsm-1', 'annotation')], KEY), undefined, 'the annotation\'s own interface, changed');
  t.match(changeProblem([parseNsUrl('kernel://b/app-1')], [kept('kernel://c/app-1', 'application')], KEY), /^annotation networkservicemesh\.io: interface app-1 of kernel:\/\/b\/app-1 is in use by a connection an application of the pod asked for \(kernel:\/\/c\/app-1\); pick another interface name$/);
  t.match(changeProblem([parseNsUrl(pool)], [], KEY), /claims a device of nsm\.example\.com\/radio, but the kubelet hands devices to a pod only when it is created/, 'a claim the pod was not created with');
  t.equal(changeProblem([parseNsUrl(`${pool}&app=x`)], [kept(pool, 'annotation', 'dev-1')], KEY), undefined, 'a changed URL keeps the device of the one it replaces');
  t.match(changeProblem([parseNsUrl(pool)], [kept('kernel://radio/nsm-1', 'annotation')], KEY), /claims a device/, 'the interface it replaces holds no device');
});
