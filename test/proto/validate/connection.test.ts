import t from 'tap';
import { Connection, kernelMechanism, memifMechanism, type Mechanism, type NetworkServiceRequest } from '../../../proto/api.ts';
import { requestProblem } from '../../../proto/validate/connection.ts';

const request = (parameters: Record<string, string>, make: () => Mechanism = kernelMechanism): NetworkServiceRequest => {
  const m = make();
  return { connection: Connection.fromPartial({ id: 'c-0', networkService: 'l2' }), mechanismPreferences: [{ ...m, parameters: { ...m.parameters, ...parameters } }] };
};

t.test('KERNEL bridge and isolated: a bridge is an interface name, isolated is true or false', async (t) => {
  t.equal(requestProblem(request({ name: 'nsm-1', bridge: 'nsm-br', isolated: 'true' })), undefined);
  t.equal(requestProblem(request({ bridge: 'nsm-br', isolated: 'false' })), undefined);
  t.match(requestProblem(request({ bridge: 'br 0' })), /mechanism_preferences\[0\]\.parameters\["bridge"\]: interface name "br 0" contains " "/);
  t.match(requestProblem(request({ bridge: 'a-bridge-name-too-long' })), /parameters\["bridge"\]: .*Linux allows at most 15/);
  t.match(requestProblem(request({ isolated: 'yes' })), /parameters\["isolated"\] "yes" is neither true nor false/);
  t.equal(requestProblem(request({ bridge: 'free text for another mechanism' }, () => memifMechanism())), undefined, 'the keys mean something only for KERNEL');
});
