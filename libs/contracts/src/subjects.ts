/**
 * NATS names. Every subject and stream is under one prefix (NATS_PREFIX,
 * default "paynet"), so several deployments or test runs can share a NATS
 * server without hearing each other. Subjects read `<service>.<noun>.<verb>`.
 */

export const default_nats_prefix = 'paynet';
const prefix_pattern = /^[A-Za-z0-9_-]{1,32}$/;

/** Request-reply subjects, without the prefix (the transport adds it). */
export const Subjects = {
  accounts: {
    accountsCreate: 'accounts.accounts.create',
    tokensVerify: 'accounts.tokens.verify',
    streamTokensVerify: 'accounts.stream-tokens.verify',
    balancesGet: 'accounts.balances.get',
    transfersPost: 'accounts.transfers.post',
    transfersGet: 'accounts.transfers.get',
    holdsPlace: 'accounts.holds.place',
    holdsPost: 'accounts.holds.post',
    holdsVoid: 'accounts.holds.void',
    holdsGet: 'accounts.holds.get',
  },
  merchants: {
    requestsAuthenticate: 'merchants.requests.authenticate',
    merchantsGet: 'merchants.merchants.get',
    streamTokensVerify: 'merchants.stream-tokens.verify',
    webhooksSign: 'merchants.webhooks.sign',
    webhookEndpointsEnabled: 'merchants.webhook-endpoints.enabled',
    webhookEndpointsStates: 'merchants.webhook-endpoints.states',
    webhookEndpointsDisable: 'merchants.webhook-endpoints.disable',
  },
} as const;

/**
 * Subjects every replica of the services that listen hears (no queue group,
 * no reply), without the prefix: `merchants.merchants.changed` drops a
 * changed merchant (or its webhook endpoints) from every merchants replica's
 * cache and push's endpoint cache; the two `*.credentials.revoked` reach
 * every push replica.
 */
export const Broadcasts = {
  merchantsChanged: 'merchants.merchants.changed',
  /** An API key stopped (a rotation with grace 0, or the end of earlier graces): push closes its streams. */
  merchantCredentialsRevoked: 'merchants.credentials.revoked',
  /** An account token was rotated: push closes the streams opened under the old one. */
  accountCredentialsRevoked: 'accounts.credentials.revoked',
} as const;

/**
 * Where every replica of `service` says it is alive (about once a second) and
 * hears its peers: each replica enforces its share of the rate limits, the
 * budget divided by the replicas it hears (libs/platform rate-limits).
 */
export function replicaCensusSubject(service: string): string {
  return `${service}.replicas.heartbeat`;
}

/**
 * Where a replica of `service` (merchants, accounts) tells every replica of
 * it that credentials changed, after the change committed: each drops them
 * from its cache of verified credentials and answers (an acknowledgement) on
 * the message's reply subject (libs/platform CredentialCache).
 */
export function credentialCacheSubject(service: string): string {
  return `${service}.credentials.invalidate`;
}

/** Queue group of each service: replicas share its requests. */
export const queue_groups = {
  accounts: 'accounts',
  merchants: 'merchants',
  payments: 'payments',
  push: 'push',
} as const;

export interface NatsNames {
  prefix: string;
  /** Full subject of a request-reply pattern. */
  request(pattern: string): string;
  /** The durable JetStream stream holding every domain event. */
  events_stream: string;
  /** Subject an event of this type is published on. */
  eventSubject(type: string): string;
  /** Filter matching every event subject. */
  events_filter: string;
  /**
   * Where a client's replies arrive (`_INBOX.<prefix>.<client>`): each NATS
   * user may subscribe to its own inbox only, so it cannot read the answers
   * others get (balances, signatures).
   */
  inboxPrefix(client: string): string;
}

export function natsNames(prefix: string = default_nats_prefix): NatsNames {
  if (!prefix_pattern.test(prefix)) {
    throw new RangeError(`NATS prefix must match ${prefix_pattern}, got "${prefix}"`);
  }
  return {
    prefix,
    request: (pattern) => `${prefix}.${pattern}`,
    events_stream: `${prefix}_events`,
    eventSubject: (type) => `${prefix}.events.${type}`,
    events_filter: `${prefix}.events.>`,
    inboxPrefix: (client) => {
      if (!prefix_pattern.test(client)) throw new RangeError(`NATS client name must match ${prefix_pattern}, got "${client}"`);
      return `_INBOX.${prefix}.${client}`;
    },
  };
}

/** NATS headers that travel with every request and event. */
export const Headers = {
  correlation_id: 'x-correlation-id',
  message_id: 'Nats-Msg-Id',
} as const;
