import type { Logger } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Broadcasts, type NatsNames } from '@paynet/contracts';
import { subscribeParsed } from './subscribe-parsed.js';

/**
 * Hears merchants' change broadcast (`{ merchant_id }`, sent after a
 * merchant's record or endpoints changed) and hands each id to `drop`: the
 * one way a cache of merchant data (merchants' own, push's endpoint lists)
 * learns that it is stale. Every replica hears it (no queue group).
 */
export function subscribeMerchantChanges(nats: NatsConnection, names: NatsNames, logger: Logger, drop: (merchant_id: string) => void): Subscription {
  return subscribeParsed(nats, names.request(Broadcasts.merchantsChanged), 'merchant change', logger, parseMerchantChange, drop);
}

/** The merchant id a change broadcast names; undefined when it is not one. */
export function parseMerchantChange(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { merchant_id } = data as Record<string, unknown>;
  return typeof merchant_id === 'string' ? merchant_id : undefined;
}
