import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured JSON logs on stderr, so stdout stays free for command output. */
export function createLogger(name: string, level: LogLevel = 'info'): Logger {
  return pino({ name, level, base: { name } }, pino.destination(2));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
