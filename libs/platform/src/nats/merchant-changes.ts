import type { Logger } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Broadcasts, type NatsNames } from '@paynet/contracts';

/**
 * Hears merchants' change broadcast (`{ merchant_id }`, sent after a
 * merchant's record or endpoints changed) and hands each id to `drop`: the
 * one way a cache of merchant data (merchants' own, push's endpoint lists)
 * learns that it is stale. Every replica hears it (no queue group).
 */
export function subscribeMerchantChanges(nats: NatsConnection, names: NatsNames, logger: Logger, drop: (merchant_id: string) => void): Subscription {
  return nats.subscribe(names.request(Broadcasts.merchantsChanged), {
    callback: (error, message) => {
      if (error) return logger.warn({ err: error }, 'merchant change subscription error');
      try {
        const { merchant_id } = message.json<{ merchant_id?: unknown }>();
        if (typeof merchant_id === 'string') drop(merchant_id);
      } catch {
        // Not a change we know: nothing to drop.
      }
    },
  });
}
