import { join } from 'node:path';
import { NsmError } from '../../sdk/errors.ts';
import { createLogger, type LogLevel } from '../../sdk/log.ts';
import { stopSignal } from '../../sdk/stop-signal.ts';
import { kubeletControl } from '../device-pools.ts';
import { paths } from '../state.ts';
import { serveControl } from './control.ts';
import { Kubelet } from './kubelet.ts';

/** A sandbox node's kubelet process (`nsm sandbox kubelet <node>`, started by up --pool): serves until SIGTERM. */
export async function runKubelet(node: string, level: LogLevel): Promise<number> {
  if (!/^node\d+$/.test(node)) throw new NsmError('INVALID_ARGUMENT', `sandbox kubelet ${JSON.stringify(node)}: name a sandbox node (node1, node2, ...); up --pool starts one per node`);
  const stopped = stopSignal();
  const log = createLogger(`kubelet/${node}`, level);
  const dir = paths.kubelet(node);
  const kubelet = new Kubelet({ pluginDir: join(dir, 'device-plugins'), podResourcesDir: join(dir, 'pod-resources'), log });
  await kubelet.start();
  const control = await serveControl(kubelet, kubeletControl(node));
  log.info({ dir }, 'kubelet ready');
  await stopped;
  control.close();
  await kubelet.stop();
  return 0;
}
