import t from 'tap';
import { isNsmError } from '../../../sdk/errors.ts';
import { decideLocalMechanism } from '../../../forwarder/elements/memif-decision.ts';

const SAME = 'unix:///var/lib/networkservicemesh/endpoints/nse.sock';
const OTHER = 'tcp://10.0.0.2:5002';
const offers = { MEMIF: ['MEMIF'], KERNEL: ['KERNEL'], both: ['MEMIF', 'KERNEL'] } as const;

/** node × client offer × endpoint memif → the client's mechanism, or the words the refusal must contain. */
const table: Array<[string, keyof typeof offers, boolean, string | RegExp]> = [
  [SAME, 'MEMIF', true, 'MEMIF'],
  [SAME, 'MEMIF', false, /offered only MEMIF, but endpoint "nse" has no memif socket \(it registered without NSM_MEMIF_SOCKET\).*fallback=kernel/],
  [SAME, 'KERNEL', true, 'KERNEL'],
  [SAME, 'KERNEL', false, 'KERNEL'],
  [SAME, 'both', true, 'MEMIF'],
  [SAME, 'both', false, 'KERNEL'],
  [OTHER, 'MEMIF', true, /endpoint "nse" is on another node \(tcp:\/\/10\.0\.0\.2:5002\): memif between nodes needs a packet-processing dataplane .* this forwarder does not have/],
  [OTHER, 'MEMIF', false, /on another node \(tcp:\/\/10\.0\.0\.2:5002\), and it registered no memif socket either: memif between nodes/],
  [OTHER, 'KERNEL', true, 'KERNEL'],
  [OTHER, 'KERNEL', false, 'KERNEL'],
  [OTHER, 'both', true, 'KERNEL'],
  [OTHER, 'both', false, 'KERNEL'],
];

for (const [url, offer, memif, want] of table) {
  const node = url === SAME ? 'same node' : 'other node';
  t.test(`${node}, client ${offer}, endpoint memif ${memif ? 'yes' : 'no'} → ${typeof want === 'string' ? want : 'FAILED_PRECONDITION'}`, async (t) => {
    const decide = () => decideLocalMechanism(offers[offer], { name: 'nse', url, memif });
    if (typeof want === 'string') t.equal(decide(), want);
    else {
      const err = (() => { try { return decide(); } catch (e) { return e; } })();
      t.ok(isNsmError(err, 'FAILED_PRECONDITION'), String(err));
      t.match((err as Error).message, want);
    }
  });
}

t.test('the client order decides: KERNEL first wins even where MEMIF would work', async (t) => {
  t.equal(decideLocalMechanism(['KERNEL', 'MEMIF'], { name: 'nse', url: SAME, memif: true }), 'KERNEL');
  t.equal(decideLocalMechanism(['VXLAN', 'MEMIF'], { name: 'nse', url: 'inode://4/5', memif: true }), 'MEMIF', 'unknown offers are skipped; inode URLs are on this node');
});

t.test('an offer with neither MEMIF nor KERNEL says so', async (t) => {
  t.throws(() => decideLocalMechanism(['VXLAN'], { name: 'nse', url: SAME, memif: true }), /offered neither MEMIF nor KERNEL \(offered: VXLAN\)/);
  t.throws(() => decideLocalMechanism([], { name: 'nse', url: SAME, memif: true }), /offered: none/);
});
