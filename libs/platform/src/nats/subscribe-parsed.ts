import type { Logger } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

/**
 * Subscribes to a broadcast whose messages are JSON that `parse` checks
 * field by field (they come off the bus, from whoever may publish there):
 * `handle` gets each message that parses; one that does not, or is not JSON,
 * is dropped with a warning naming `what`, as is a subscription error.
 */
export function subscribeParsed<T>(
  nats: NatsConnection,
  subject: string,
  what: string,
  logger: Pick<Logger, 'warn'>,
  parse: (data: unknown) => T | undefined,
  handle: (message: T) => void,
): Subscription {
  return nats.subscribe(subject, {
    callback: (error, message) => {
      if (error) return logger.warn({ err: error, subject }, `${what} subscription error`);
      let parsed: T | undefined;
      try {
        parsed = parse(message.json());
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined) return logger.warn({ subject }, `ignored a malformed ${what}`);
      handle(parsed);
    },
  });
}
