import { rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { NsmError, toNsmError, type CodeName } from '../../sdk/errors.ts';
import type { Kubelet } from './kubelet.ts';

/** What `nsm sandbox apply` asks a node's kubelet: admit one container for these resources. */
export interface AdmitRequest {
  pod: string;
  namespace: string;
  container: string;
  /** Resource name → count, from the container's resources.limits. */
  resources: Record<string, number>;
}

/** How long an admission waits for a plugin that has not registered yet (the forwarder just started). */
const PLUGIN_WAIT_MS = 15_000;

async function admit(kubelet: Kubelet, r: AdmitRequest): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [resource, count] of Object.entries(r.resources)) {
    for (const until = Date.now() + PLUGIN_WAIT_MS; !kubelet.plugins.get(resource)?.devices.length && Date.now() < until;) await sleep(100);
    Object.assign(env, await kubelet.admit({ name: r.pod, namespace: r.namespace }, r.container, resource, count));
  }
  return env;
}

/**
 * The sandbox's way into a node's kubelet process, over a unix socket (plain HTTP, sandbox
 * only): `POST /admit` with an AdmitRequest answers the env the plugins' Allocate gave, or the
 * error that keeps the pod from running.
 */
export function serveControl(kubelet: Kubelet, socket: string): Promise<Server> {
  rmSync(socket, { force: true });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      const answer = req.method === 'POST' && req.url === '/admit'
        ? admit(kubelet, JSON.parse(body) as AdmitRequest).then((env) => ({ env }))
        : Promise.reject(new NsmError('NOT_FOUND', `${req.method} ${req.url}: the kubelet's sandbox control knows POST /admit`));
      answer.then(
        (ok) => res.end(JSON.stringify(ok)),
        (err: unknown) => {
          const e = toNsmError(err);
          res.statusCode = 409;
          res.end(JSON.stringify({ code: e.code, message: e.message }));
        },
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve(server));
  });
}

/** Asks the kubelet behind `socket` to admit a container; its env, or the kubelet's refusal as an NsmError. */
export function admitThrough(socket: string, r: AdmitRequest): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/admit', method: 'POST' }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => {
        const answer = JSON.parse(body) as { env?: Record<string, string>; code?: CodeName; message?: string };
        if (answer.env) resolve(answer.env);
        else reject(new NsmError(answer.code ?? 'INTERNAL', answer.message ?? body));
      });
    });
    req.on('error', (err) => reject(new NsmError('UNAVAILABLE', `the sandbox kubelet at ${socket} does not answer: ${err.message}`)));
    req.end(JSON.stringify(r));
  });
}
