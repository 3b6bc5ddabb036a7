import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  DevicePluginDefinition, type AllocateRequest, type AllocateResponse, type DevicePluginOptions, type Empty, type ListAndWatchResponse,
  type PreferredAllocationRequest, type PreferredAllocationResponse, type PreStartContainerResponse,
} from '../../proto/gen/deviceplugin/v1beta1/api.ts';
import { NsmError } from '../../sdk/errors.ts';
import { refusedMalformed } from '../../sdk/grpc/definitions.ts';
import { unaryHandler } from '../../sdk/grpc/networkservice-server.ts';
import type { ServiceBinding } from '../../sdk/grpc/server.ts';
import type { Logger } from '../../sdk/log.ts';
import type { DevicePool } from './pool.ts';

export const PLUGIN_OPTIONS: DevicePluginOptions = { preStartRequired: false, getPreferredAllocationAvailable: false };

/**
 * The kubelet's side of one pool (v1beta1 DevicePlugin): ListAndWatch streams every member by its
 * token with its health, the whole list at once and again at every change; Allocate answers a
 * container's tokens as upstream's env var `NSM_SRIOV_TOKENS_<resource>`. Nothing moves at
 * Allocate: the device moves when the pod's client claims its token. `streams` ends the open
 * ListAndWatch streams (the kubelet sees the plugin go, as when it stops).
 */
export function devicePluginBinding(pool: DevicePool, log: Logger): ServiceBinding & { endStreams(): void } {
  const streams = new Set<ServerWritableStream<Empty, ListAndWatchResponse>>();
  const implementation: UntypedServiceImplementation = {
    getDevicePluginOptions: unaryHandler<Empty, DevicePluginOptions>(log, 'GetDevicePluginOptions', async () => PLUGIN_OPTIONS),
    listAndWatch(call: ServerWritableStream<Empty, ListAndWatchResponse>) {
      if (refusedMalformed(call)) return;
      streams.add(call);
      const send = () => call.write({ devices: pool.devices() });
      send();
      const stop = pool.onChange(send);
      const ended = () => {
        stop();
        streams.delete(call);
      };
      call.on('cancelled', ended);
      call.on('close', ended);
      call.on('error', ended);
    },
    getPreferredAllocation: unaryHandler<PreferredAllocationRequest, PreferredAllocationResponse>(log, 'GetPreferredAllocation', async (_ctx, req) => ({
      containerResponses: req.containerRequests.map((c) => ({
        deviceIDs: [...new Set([...c.mustIncludeDeviceIDs, ...c.availableDeviceIDs])].slice(0, Math.max(c.allocationSize, c.mustIncludeDeviceIDs.length)),
      })),
    })),
    allocate: unaryHandler<AllocateRequest, AllocateResponse>(log, 'Allocate', async (_ctx, req) => {
      const unknown = req.containerRequests.flatMap((c) => c.devicesIds).filter((id) => !pool.member(id));
      if (unknown.length > 0) {
        // As the API asks: a failed Allocate comes with a fresh list, so the kubelet stops offering what is not there.
        for (const s of streams) s.write({ devices: pool.devices() });
        throw new NsmError('INVALID_ARGUMENT', `device pool ${pool.resource} has no device ${unknown.join(', ')}; its devices are ${pool.devices().map((d) => d.ID).join(', ')}`);
      }
      log.info({ resource: pool.resource, containers: req.containerRequests.length }, 'kubelet allocated pool devices');
      return { containerResponses: req.containerRequests.map((c) => ({ envs: pool.envFor(c.devicesIds), mounts: [], devices: [], annotations: {}, cdiDevices: [] })) };
    }),
    preStartContainer: unaryHandler<unknown, PreStartContainerResponse>(log, 'PreStartContainer', async () => ({})),
  };
  return {
    definition: DevicePluginDefinition,
    implementation,
    endStreams: () => {
      for (const s of [...streams]) s.end();
      streams.clear();
    },
  };
}
