/**
 * Options every channel and server of ours shares. Channelz is off: nothing here serves the
 * channelz service, and with it on grpc-js keeps per-call counters and timestamps on every call.
 */
export const GRPC_COMMON_OPTIONS = { 'grpc.enable_channelz': 0 } as const;
