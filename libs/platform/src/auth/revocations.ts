import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CredentialsRevoked, NatsNames } from '@paynet/contracts';
import { NATS_CONNECTION, NATS_NAMES } from '../nats/nats-connection.js';

/** How long an announcement waits for the server to confirm it before the answer goes out anyway. */
export const revocation_flush_timeout_ms = 2_000;

/**
 * Tells every push replica that credentials stopped (or will stop at
 * `expires_at`), after the change committed: push closes the streams opened
 * under them. The request is answered once nats-server has the message (a
 * flush), so a client that saw the rotation answered can count on push
 * hearing of it. Core NATS is at most once: push also checks its streams'
 * tokens again after a reconnect and every minute (StreamGateway).
 */
@Injectable()
export class RevocationAnnouncer {
  private readonly logger = new Logger(RevocationAnnouncer.name);

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {}

  async announce(subject: string, revoked: CredentialsRevoked): Promise<void> {
    if (revoked.credentials.length === 0) return;
    try {
      this.nats.publish(this.names.request(subject), JSON.stringify(revoked));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('flush timed out')), revocation_flush_timeout_ms);
      });
      await Promise.race([this.nats.flush(), timeout]).finally(() => clearTimeout(timer));
    } catch (error) {
      // Committed either way: new streams are refused by the token check; open ones close at push's next check.
      this.logger.warn({ err: error, subject }, 'could not confirm a credential revocation broadcast');
    }
  }
}
