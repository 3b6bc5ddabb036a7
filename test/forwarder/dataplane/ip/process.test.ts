import fc from 'fast-check';
import t from 'tap';
import { BatchLedger, MARKER } from '../../../../forwarder/dataplane/ip/process.ts';

const failed = (n: number, message: string) => `${message}\nCommand failed -:${n}\n`;
const marker = (n: number) => failed(n, `Object "${MARKER}" is unknown, try "ip help".`);

t.test('each group hears about its own failed lines, by index within the group', async (t) => {
  const l = new BatchLedger();
  t.equal(l.preamble, `${MARKER}\n`);
  const a = l.add(['link add a', 'address add x dev a']); // lines 2, 3; marker 4
  const b = l.add(['route replace y dev b']); // line 5; marker 6
  t.equal(a.text, `link add a\naddress add x dev a\n${MARKER}\n`);
  t.equal(l.outstanding, 2);
  l.stderr(marker(1));
  l.stderr(failed(3, 'Cannot find device "a"'));
  l.stderr(marker(4));
  l.stderr(failed(5, 'RTNETLINK answers: File exists') + marker(6));
  t.same(await a.outcome, { kind: 'done', failures: new Map([[1, 'Cannot find device "a"']]) });
  t.same(await b.outcome, { kind: 'done', failures: new Map([[0, 'RTNETLINK answers: File exists']]) });
  t.equal(l.outstanding, 0);
});

t.test('batch errors are attributed to their line', async (t) => {
  const l = new BatchLedger();
  const a = l.add(['l2', 'l3', 'l4', 'l5']); // lines 2-5; marker 6
  l.stderr(marker(1) + 'RTNETLINK answers: File exists\nCommand failed -:2\nCannot find device "nope"\nCommand failed -:5\n' + marker(6));
  t.same(await a.outcome, { kind: 'done', failures: new Map([[0, 'RTNETLINK answers: File exists'], [3, 'Cannot find device "nope"']]) });
});

t.test('stderr split anywhere, and multi-line messages, are put back together', async (t) => {
  const l = new BatchLedger();
  const a = l.add(['x']);
  const text = marker(1) + failed(2, 'Error: first half.\nsecond half') + marker(3);
  for (const ch of text) l.stderr(ch);
  t.same(await a.outcome, { kind: 'done', failures: new Map([[0, 'Error: first half.; second half']]) });
});

t.test('an empty group is just a marker', async (t) => {
  const l = new BatchLedger();
  const a = l.add([]);
  t.equal(a.text, `${MARKER}\n`);
  l.stderr(marker(1) + marker(2));
  t.same(await a.outcome, { kind: 'done', failures: new Map() });
});

t.test('a process that dies: the group it died in crashed, later groups never ran', async (t) => {
  const l = new BatchLedger();
  const a = l.add(['ok']); // 2, marker 3
  const b = l.add(['bad one', 'address add 999.1.1.1/32 dev lo']); // 4, 5, marker 6
  const c = l.add(['later']); // 7, marker 8
  l.stderr(marker(1) + marker(3) + failed(4, 'Cannot find device "q"'));
  l.stderr('Error: any valid prefix is expected rather than "999.1.1.1/32".\n');
  l.end('ip exited with status 255');
  t.same(await a.outcome, { kind: 'done', failures: new Map() });
  t.same(await b.outcome, {
    kind: 'crashed',
    failures: new Map([[0, 'Cannot find device "q"']]),
    message: 'Error: any valid prefix is expected rather than "999.1.1.1/32".; ip exited with status 255',
  });
  t.same(await c.outcome, { kind: 'not-run' });
  t.same(await l.add(['after']).outcome, { kind: 'not-run' }, 'nothing is written to a dead process');
  t.ok(l.ended);
});

t.test('a process that never reached its first line did not start', async (t) => {
  const l = new BatchLedger();
  const a = l.add(['x']);
  const b = l.add(['y']);
  l.stderr("nsenter: cannot open /proc/1234/ns/net: No such file or directory\n");
  l.end('ip exited with status 1');
  const message = 'nsenter: cannot open /proc/1234/ns/net: No such file or directory; ip exited with status 1';
  t.same(await a.outcome, { kind: 'unstarted', message });
  t.same(await b.outcome, { kind: 'unstarted', message });
});

t.test('a line that would become two lines is refused', async (t) => {
  const l = new BatchLedger();
  t.throws(() => l.add(['link add a\nlink del b']), /would not stay one line/);
  t.throws(() => l.add(['link add a \\']), /would not stay one line/);
});

t.test('property: any interleaving of failures lands on the right group and line', async (t) => {
  const groupsArb = fc.array(fc.array(fc.boolean(), { maxLength: 6 }), { minLength: 1, maxLength: 12 });
  await fc.assert(fc.asyncProperty(groupsArb, fc.integer({ min: 1, max: 40 }), async (groups, chunk) => {
    const l = new BatchLedger();
    const outcomes = groups.map((fails, g) => l.add(fails.map((_, i) => `cmd ${g} ${i}`)).outcome);
    let n = 1;
    let err = marker(n);
    for (const [g, fails] of groups.entries()) {
      for (const [i, f] of fails.entries()) {
        n++;
        if (f) err += failed(n, `fail ${g} ${i}`);
      }
      err += marker(++n);
    }
    for (let i = 0; i < err.length; i += chunk) l.stderr(err.slice(i, i + chunk));
    const got = await Promise.all(outcomes);
    groups.forEach((fails, g) => {
      const want = new Map(fails.flatMap((f, i) => (f ? [[i, `fail ${g} ${i}`] as [number, string]] : [])));
      t.same(got[g], { kind: 'done', failures: want });
    });
  }), { numRuns: 200 });
});
