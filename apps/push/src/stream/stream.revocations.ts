import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Broadcasts, type CredentialsRevoked, type NatsNames } from '@paynet/contracts';
import { NATS_CONNECTION, NATS_NAMES, subscribeParsed } from '@paynet/platform';
import { StreamGateway } from './stream.gateway.js';

/** Credentials named in one broadcast at most; more is not a message of ours. */
const revoked_credentials_max = 1_000;

/** Parses a broadcast; undefined when it is not one (every field checked: it comes off the bus). */
export function parseRevocation(data: unknown): CredentialsRevoked | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { credentials, expires_at } = data as Record<string, unknown>;
  if (!Array.isArray(credentials) || credentials.length > revoked_credentials_max) return undefined;
  if (!credentials.every((credential) => typeof credential === 'string' && credential.length > 0 && credential.length <= 128)) return undefined;
  if (expires_at !== undefined && !(typeof expires_at === 'number' && Number.isSafeInteger(expires_at))) return undefined;
  return expires_at === undefined ? { credentials } : { credentials, expires_at };
}

/**
 * Hears that an API key or an account token stopped (merchants and accounts
 * broadcast it after the commit, every push replica hears it) and closes the
 * streams opened under it. A broadcast missed while NATS was away is made up
 * for by checking every open stream's token again after the reconnect.
 */
@Injectable()
export class StreamRevocations implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamRevocations.name);
  private readonly subscriptions: Subscription[] = [];
  private stopped = false;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
    private readonly gateway: StreamGateway,
  ) {}

  onApplicationBootstrap(): void {
    for (const subject of [Broadcasts.merchantCredentialsRevoked, Broadcasts.accountCredentialsRevoked]) {
      this.subscriptions.push(
        subscribeParsed(this.nats, this.names.request(subject), 'revocation', this.logger, parseRevocation, (revoked) => {
          const closed = this.gateway.revoke(revoked.credentials, revoked.expires_at);
          if (closed > 0) this.logger.log({ closed }, 'closed streams of revoked credentials');
        }),
      );
    }
    void (async () => {
      for await (const status of this.nats.status()) {
        if (this.stopped) return;
        if (status.type === 'reconnect') void this.gateway.recheckAll().catch((error: unknown) => this.logger.warn({ err: error }, 'stream recheck failed'));
      }
    })().catch(() => undefined);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.subscriptions.map((subscription) => subscription.drain().catch(() => undefined)));
  }
}
