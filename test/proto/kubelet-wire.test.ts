import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  AllocateRequest, AllocateResponse, ListAndWatchResponse, PreferredAllocationRequest, PreferredAllocationResponse, PreStartContainerRequest, RegisterRequest,
  DevicePluginDefinition, RegistrationDefinition,
} from '../../proto/gen/deviceplugin/v1beta1/api.ts';
import { ListPodResourcesResponse, PodResourcesListerDefinition } from '../../proto/gen/podresources/v1/api.ts';
import { bool, entry, message, msg, str, uint } from '../fixtures/proto-bytes.ts';

// The bytes below are written from the field numbers of k8s.io/kubelet's own api.proto files
// (pkg/apis/deviceplugin/v1beta1, pkg/apis/podresources/v1), not from ours: our generated code and
// protoc reading our .proto must both find every value where the kubelet puts it.

const protoc = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
const skip = protoc.status === 0 ? false : 'protoc not installed (apt-get install protobuf-compiler libprotobuf-dev)';
const DEVICEPLUGIN = 'deviceplugin/v1beta1/api.proto';
const PODRESOURCES = 'podresources/v1/api.proto';
const decode = (type: string, file: string, bytes: Uint8Array) => execFileSync('protoc', ['-I', 'proto', `--decode=${type}`, file], { input: bytes, encoding: 'utf8' });

t.test('the services and their paths are the kubelet\'s', async (t) => {
  t.equal(RegistrationDefinition.fullName, 'v1beta1.Registration');
  t.same(Object.values(RegistrationDefinition.methods).map((m) => m.name), ['Register']);
  t.equal(DevicePluginDefinition.fullName, 'v1beta1.DevicePlugin');
  t.same(Object.values(DevicePluginDefinition.methods).map((m) => [m.name, m.responseStream]), [
    ['GetDevicePluginOptions', false], ['ListAndWatch', true], ['GetPreferredAllocation', false], ['Allocate', false], ['PreStartContainer', false],
  ]);
  t.equal(PodResourcesListerDefinition.fullName, 'v1.PodResourcesLister');
  t.same(Object.values(PodResourcesListerDefinition.methods).map((m) => m.name), ['List']);
});

t.test('RegisterRequest: version 1, endpoint 2, resource_name 3, options 4 {pre_start_required 1, get_preferred_allocation_available 2}', { skip }, async (t) => {
  const bytes = message(str(1, 'v1beta1'), str(2, 'nsm.radio.sock'), str(3, 'nsm.example.com/radio'), msg(4, bool(1, true), bool(2, true)));
  t.same(RegisterRequest.decode(bytes), {
    version: 'v1beta1', endpoint: 'nsm.radio.sock', resourceName: 'nsm.example.com/radio', options: { preStartRequired: true, getPreferredAllocationAvailable: true },
  });
  const text = decode('v1beta1.RegisterRequest', DEVICEPLUGIN, bytes);
  for (const line of ['version: "v1beta1"', 'endpoint: "nsm.radio.sock"', 'resource_name: "nsm.example.com/radio"', 'pre_start_required: true', 'get_preferred_allocation_available: true']) t.match(text, line);
  t.same([...RegisterRequest.encode(RegisterRequest.decode(bytes)).finish()], [...bytes], 'our encoding is the same bytes');
});

t.test('ListAndWatchResponse: devices 1 {ID 1, health 2, topology 3 {nodes 1 {ID 1 (int64)}}}', { skip }, async (t) => {
  const bytes = message(
    msg(1, str(1, 'sriov-a'), str(2, 'Healthy'), msg(3, msg(1, uint(1, 1)))),
    msg(1, str(1, 'sriov-b'), str(2, 'Unhealthy')),
  );
  t.same(ListAndWatchResponse.decode(bytes), {
    devices: [{ ID: 'sriov-a', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } }, { ID: 'sriov-b', health: 'Unhealthy', topology: undefined }],
  });
  const text = decode('v1beta1.ListAndWatchResponse', DEVICEPLUGIN, bytes);
  for (const line of ['ID: "sriov-a"', 'health: "Healthy"', 'ID: 1', 'health: "Unhealthy"']) t.match(text, line);
});

t.test('AllocateRequest: container_requests 1 {devices_ids 1}', { skip }, async (t) => {
  const bytes = message(msg(1, str(1, 'sriov-a'), str(1, 'sriov-b')));
  t.same(AllocateRequest.decode(bytes), { containerRequests: [{ devicesIds: ['sriov-a', 'sriov-b'] }] });
  t.match(decode('v1beta1.AllocateRequest', DEVICEPLUGIN, bytes), /devices_ids: "sriov-a"\s+devices_ids: "sriov-b"/);
});

t.test('AllocateResponse: container_responses 1 {envs 1, mounts 2, devices 3, annotations 4, cdi_devices 5}', { skip }, async (t) => {
  const bytes = message(msg(1,
    entry(1, 'NSM_SRIOV_TOKENS_nsm.example.com/radio', 'sriov-a,sriov-b'),
    msg(2, str(1, '/in'), str(2, '/out'), bool(3, true)),
    msg(3, str(1, '/dev/vfio/7'), str(2, '/dev/vfio/7'), str(3, 'rw')),
    entry(4, 'k', 'v'),
    msg(5, str(1, 'vendor.com/gpu=gpu0')),
  ));
  t.same(AllocateResponse.decode(bytes), {
    containerResponses: [{
      envs: { 'NSM_SRIOV_TOKENS_nsm.example.com/radio': 'sriov-a,sriov-b' },
      mounts: [{ containerPath: '/in', hostPath: '/out', readOnly: true }],
      devices: [{ containerPath: '/dev/vfio/7', hostPath: '/dev/vfio/7', permissions: 'rw' }],
      annotations: { k: 'v' },
      cdiDevices: [{ name: 'vendor.com/gpu=gpu0' }],
    }],
  });
  const text = decode('v1beta1.AllocateResponse', DEVICEPLUGIN, bytes);
  for (const line of ['key: "NSM_SRIOV_TOKENS_nsm.example.com/radio"', 'value: "sriov-a,sriov-b"', 'container_path: "/in"', 'read_only: true', 'permissions: "rw"', 'name: "vendor.com/gpu=gpu0"']) t.match(text, line);
});

t.test('PreferredAllocation and PreStartContainer messages', { skip }, async (t) => {
  const request = message(msg(1, str(1, 'a'), str(1, 'b'), str(2, 'a'), uint(3, 1)));
  t.same(PreferredAllocationRequest.decode(request), { containerRequests: [{ availableDeviceIDs: ['a', 'b'], mustIncludeDeviceIDs: ['a'], allocationSize: 1 }] });
  t.match(decode('v1beta1.PreferredAllocationRequest', DEVICEPLUGIN, request), /available_deviceIDs: "b"[\s\S]*must_include_deviceIDs: "a"[\s\S]*allocation_size: 1/);
  const response = message(msg(1, str(1, 'b')));
  t.same(PreferredAllocationResponse.decode(response), { containerResponses: [{ deviceIDs: ['b'] }] });
  t.match(decode('v1beta1.PreferredAllocationResponse', DEVICEPLUGIN, response), /deviceIDs: "b"/);
  const preStart = message(str(1, 'a'));
  t.same(PreStartContainerRequest.decode(preStart), { devicesIds: ['a'] });
  t.match(decode('v1beta1.PreStartContainerRequest', DEVICEPLUGIN, preStart), /devices_ids: "a"/);
});

t.test('ListPodResourcesResponse: pod_resources 1 {name 1, namespace 2, containers 3 {name 1, devices 2 {resource_name 1, device_ids 2}}}', { skip }, async (t) => {
  const bytes = message(msg(1, str(1, 'client'), str(2, 'demo'), msg(3, str(1, 'nsc-init'), msg(2, str(1, 'nsm.example.com/radio'), str(2, 'sriov-a')))));
  t.same(ListPodResourcesResponse.decode(bytes), {
    podResources: [{ name: 'client', namespace: 'demo', containers: [{ name: 'nsc-init', devices: [{ resourceName: 'nsm.example.com/radio', deviceIds: ['sriov-a'] }] }] }],
  });
  const text = decode('v1.ListPodResourcesResponse', PODRESOURCES, bytes);
  for (const line of ['name: "client"', 'namespace: "demo"', 'name: "nsc-init"', 'resource_name: "nsm.example.com/radio"', 'device_ids: "sriov-a"']) t.match(text, line);
});
