/** Error codes share gRPC's numbering so the edge maps them one to one. */
export const Code = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type CodeName = keyof typeof Code;

const names = new Map<number, CodeName>(Object.entries(Code).map(([k, v]) => [v, k as CodeName]));

export function codeName(code: number): CodeName {
  return names.get(code) ?? 'UNKNOWN';
}

/** An error a user can act on: a code and a message that says what was wrong and what to do. */
export class NsmError extends Error {
  readonly code: CodeName;
  constructor(code: CodeName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NsmError';
    this.code = code;
  }
}

export function isNsmError(err: unknown, code?: CodeName): err is NsmError {
  return err instanceof NsmError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an NsmError; plain errors become INTERNAL with their message kept. */
export function toNsmError(err: unknown): NsmError {
  if (err instanceof NsmError) return err;
  if (err instanceof Error && err.name === 'AbortError') return new NsmError('CANCELLED', err.message, { cause: err });
  if (err instanceof Error && err.name === 'TimeoutError') return new NsmError('DEADLINE_EXCEEDED', err.message, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new NsmError('INTERNAL', message, { cause: err });
}
