import { NsmError, type CodeName } from '../../sdk/errors.ts';
import { describeOp, type KernelOp } from './kernel-op.ts';

/** The kernel answers a caller can act on, by errno and by the words `strerror` and `ip` give them. */
const ANSWERS: ReadonlyArray<{ errno: number; words: RegExp; code: CodeName }> = [
  { errno: 17, words: /File exists|already exists|already assigned/, code: 'ALREADY_EXISTS' },
  { errno: 19, words: /No such device|Cannot find device/, code: 'NOT_FOUND' },
  { errno: 2, words: /No such file or directory/, code: 'NOT_FOUND' },
  { errno: 22, words: /Invalid argument/, code: 'INVALID_ARGUMENT' },
  { errno: 34, words: /Numerical result out of range/, code: 'INVALID_ARGUMENT' },
  { errno: 95, words: /Operation not supported/, code: 'FAILED_PRECONDITION' },
  { errno: 101, words: /Network is unreachable/, code: 'FAILED_PRECONDITION' },
  { errno: 16, words: /Device or resource busy/, code: 'UNAVAILABLE' },
];

/** The code for a refusal: from its errno when known, else from its words; INTERNAL for the rest. */
function codeOfRefusal(words: string, errno?: number): CodeName {
  const a = errno !== undefined ? ANSWERS.find((x) => x.errno === errno) : ANSWERS.find((x) => x.words.test(words));
  return a?.code ?? 'INTERNAL';
}

/** The namespace in messages. */
const whereOf = (netnsPath: string) => netnsPath || 'the node namespace';

/**
 * Every failure of a kernel call: the op it happened in, and the kernel's (or `ip`'s) own words.
 * - refused: the kernel said no (`kernel refused add-address 10.0.0.1/32 on nsm-1 in <netns>: File exists`);
 * - invalid: a field breaks a rule, nothing ran (INVALID_ARGUMENT; `field` names it);
 * - unreachable: the namespace could not be entered (INTERNAL);
 * - died: the session to the kernel ended while running the op's call (INTERNAL).
 */
export class KernelError extends NsmError {
  readonly op: KernelOp;
  readonly words: string;
  readonly field?: string;

  constructor(code: CodeName, op: KernelOp, words: string, message: string, field?: string) {
    super(code, message);
    this.name = 'KernelError';
    this.op = op;
    this.words = words;
    this.field = field;
  }

  static refused(op: KernelOp, netnsPath: string, words: string, errno?: number): KernelError {
    const w = words.trim() || 'no message';
    return new KernelError(codeOfRefusal(w, errno), op, w, `kernel refused ${describeOp(op)} in ${whereOf(netnsPath)}: ${w}`);
  }

  static invalid(op: KernelOp, field: string, value: unknown, rule: string): KernelError {
    const shown = value === undefined ? 'missing' : JSON.stringify(value);
    const name = typeof op === 'object' && op !== null ? String(op.op) : 'kernel op';
    return new KernelError('INVALID_ARGUMENT', op, rule, `invalid ${name}: ${field} ${shown} ${rule}`, field);
  }

  static unreachable(op: KernelOp, netnsPath: string, words: string): KernelError {
    return new KernelError('INTERNAL', op, words, `cannot program ${whereOf(netnsPath)}: ${words} (running ${describeOp(op)})`);
  }

  /** `ops`: the call's, in order (a session that dies cannot tell which of them it died on). */
  static died(ops: readonly KernelOp[], netnsPath: string, words: string): KernelError {
    const shown = ops.length > 1 ? `${describeOp(ops[0])} and ${ops.length - 1} more` : describeOp(ops[0]);
    return new KernelError('INTERNAL', ops[0], words, `the kernel session for ${whereOf(netnsPath)} died running this call (${shown}): ${words}`);
  }
}
