import t from 'tap';
import { join } from 'node:path';
import { runCli } from '../../../bin/cli.ts';

async function nsm(args: string[], env: Record<string, string> = {}) {
  let out = '';
  const stream = { write: (s: string) => { out += s; } };
  const code = await runCli(args, env, stream, stream);
  return { code, out };
}

t.test('nsc list, request and close say what is wrong before they dial', async (t) => {
  const missing = join(t.testdir(), 'nsc.sock');
  const api = { NSM_CLIENT_API: `unix://${missing}`, NSM_REQUEST_TIMEOUT: '300ms' };
  for (const args of [['nsc', 'list'], ['nsc', 'request', 'kernel://svc/app-1'], ['nsc', 'close', 'app-1']]) {
    t.same(await nsm(args, api), { code: 1, out: `nsm ${args[0]} ${args[1]}: no sidecar client API at ${missing} within 300 ms: run this in a container of a pod the webhook injected (the sidecar serves it there), or set NSM_CLIENT_API to its socket\n` }, `${args[1]}: no socket within the timeout (a sidecar still starting gets that long)`);
    t.match(await nsm(args, { NSM_CLIENT_API: '' }), { code: 2, out: /NSM_CLIENT_API is empty: set it to the sidecar's client API socket/ }, `${args[1]}: an empty NSM_CLIENT_API`);
    t.match(await nsm(args, { NSM_CLIENT_API: 'tcp://127.0.0.1:1' }), { code: 2, out: /NSM_CLIENT_API.*the client API is served on a unix socket in a volume of the pod/ }, `${args[1]}: not a unix socket`);
  }
  t.match(await nsm(['nsc', 'request'], api), { code: 2, out: /nsc request needs one NS URL, e.g. kernel:\/\/my-service\/nsm-2/ });
  t.match(await nsm(['nsc', 'request', 'kernel://a/x', 'kernel://b/y'], api), { code: 2, out: /nsc request needs one NS URL/ }, 'one at a time');
  t.match(await nsm(['nsc', 'request', 'kernel://bad service/x'], api), { code: 2, out: /^nsm nsc request: network service URL "kernel:\/\/bad service\/x": service name "bad service" may contain only/ });
  t.match(await nsm(['nsc', 'close'], api), { code: 2, out: /nsc close needs the id or the interface name of a connection, as nsm nsc list shows them/ });
  t.match(await nsm(['nsc', 'close', ''], api), { code: 2, out: /nsc close needs the id/ });
});
