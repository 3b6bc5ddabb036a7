/**
 * Resolves with the first SIGTERM or SIGINT from the moment it is called. Commands call it before
 * they start serving, so a stop that arrives during start-up is kept and honoured once start-up is
 * done, instead of killing the process halfway (the signals' default action).
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
