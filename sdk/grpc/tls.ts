import { accessSync, constants } from 'node:fs';
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import { NsmError } from '../errors.ts';
import type { ChannelSecurity } from './client.ts';

export interface MutualTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** How often the files are re-read (rotation by cert-manager needs no restart). Default 30 s. */
  refreshIntervalMs?: number;
}

/** Stops at start with a message naming the variable whose file cannot be read. */
export function checkTlsFiles(files: MutualTlsFiles, names = { caFile: 'NSM_TLS_CA_FILE', certFile: 'NSM_TLS_CERT_FILE', keyFile: 'NSM_TLS_KEY_FILE' }): void {
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const path = files[key];
    if (!path) throw new NsmError('FAILED_PRECONDITION', `${names[key]} is not set: peering needs mutual TLS (or NSM_INSECURE=true for plaintext)`);
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new NsmError('FAILED_PRECONDITION', `${names[key]}=${path} cannot be read; mount the peer certificate there or set ${names[key]}`);
    }
  }
}

function provider(files: MutualTlsFiles) {
  return new experimental.FileWatcherCertificateProvider({
    caCertificateFile: files.caFile,
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    refreshIntervalMs: files.refreshIntervalMs ?? 30_000,
  });
}

/**
 * Server side of peering: only callers holding a certificate signed by the CA get through.
 * The files are watched, so a rotated certificate or CA bundle applies to new connections.
 */
export function mutualTlsServerCredentials(files: MutualTlsFiles): ServerCredentials {
  const p = provider(files);
  return experimental.createCertificateProviderServerCredentials(p, p, true);
}

/** The TLS server name every peer is dialled with: an IP is not a valid one (RFC 6066). */
export const PEER_SERVER_NAME = 'nsm-peer';

/**
 * Client side of peering, as dial options. Peers are dialled by IP and their certificates are
 * issued per DaemonSet, not per address, so trust is membership of the CA: the host name is not
 * checked, and the server name sent is PEER_SERVER_NAME rather than the IP.
 */
export function mutualTlsDialOptions(files: MutualTlsFiles): ChannelSecurity {
  const p = provider(files);
  return {
    credentials: experimental.createCertificateProviderChannelCredentials(p, p, { checkServerIdentity: () => undefined }),
    channelOptions: { 'grpc.ssl_target_name_override': PEER_SERVER_NAME },
  };
}
