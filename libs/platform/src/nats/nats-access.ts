import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { natsNames } from '@paynet/contracts';
import { readFileSync } from 'node:fs';
import type { BaseConfig } from '../config/config.js';

export type NatsAccessConfig = Pick<
  BaseConfig,
  'NATS_PREFIX' | 'NATS_USER' | 'NATS_PASSWORD' | 'NATS_CREDS' | 'NATS_TLS_CA' | 'NATS_TLS_CERT' | 'NATS_TLS_KEY'
>;

/**
 * How a service logs in to NATS: its own user (NATS_USER / NATS_PASSWORD) or
 * credentials file (NATS_CREDS), TLS when configured, and replies on its own
 * inbox (`_INBOX.<prefix>.<client>`), the only one its user may read.
 * Every connection of the service (Nest's server and client, JetStream) uses it.
 */
export function natsAccessOptions(config: NatsAccessConfig, client: string): Partial<ConnectionOptions> {
  const options: Partial<ConnectionOptions> = { inboxPrefix: natsNames(config.NATS_PREFIX).inboxPrefix(client) };
  if (config.NATS_USER !== undefined) Object.assign(options, { user: config.NATS_USER, pass: config.NATS_PASSWORD });
  if (config.NATS_CREDS !== undefined) {
    const file = config.NATS_CREDS;
    // Read at every (re)connect, so a rotated file is picked up without a restart.
    options.authenticator = credsAuthenticator(() => readFileSync(file));
  }
  if (config.NATS_TLS_CA !== undefined || config.NATS_TLS_CERT !== undefined) {
    options.tls = {
      ...(config.NATS_TLS_CA !== undefined && { caFile: config.NATS_TLS_CA }),
      ...(config.NATS_TLS_CERT !== undefined && { certFile: config.NATS_TLS_CERT, keyFile: config.NATS_TLS_KEY }),
    };
  }
  return options;
}
