import { Broadcasts, credentialCacheSubject, natsNames, replicaCensusSubject, Subjects } from '@paynet/contracts';
import { randomBytes } from 'node:crypto';
import { serviceNames, type ServiceName } from './stack-env.js';

/**
 * Who may do what on the NATS bus: the one table from which every
 * nats-server configuration is generated (`npm start`, the test stacks,
 * docker/nats-server.conf). Each service has its own user, confined to the
 * subjects it serves and calls; `operator` is for people and tools (the
 * readiness probe, test clients, benchmarks), never for a service.
 */
export const nats_user_names = [...serviceNames, 'operator'] as const;
export type NatsUserName = (typeof nats_user_names)[number];

interface ServiceBus {
  /** Request subjects it answers: it subscribes to them and may reply to their callers (allow_responses). */
  serves: readonly string[];
  /** Request subjects it sends; answers come back on its own inbox. */
  calls: readonly string[];
  /** Subjects every replica of it both publishes and hears (cache invalidations, the replica census of the rate limits); it may answer them (acknowledgements) when it serves. */
  broadcasts?: readonly string[];
  /** Broadcasts it publishes for other services to hear (credential revocations). */
  announces?: readonly string[];
  /** Another service's broadcasts it only hears (its own cache of that service's data, credential revocations). */
  hears?: readonly string[];
  /**
   * Its part in the events stream: each publisher its own events only, from
   * its outbox (payments its intents' and refunds', accounts the
   * balance updates of wallets, merchants its endpoints'); push reads
   * (durable and live consumers).
   */
  events: 'publishes' | 'consumes' | 'none';
  /** Event types a publisher may publish (subject tokens after `events.`); every type when absent. */
  event_types?: readonly string[];
}

const a = Subjects.accounts;
const m = Subjects.merchants;
// Every service without its own authenticator asks the owner of the credential (libs/platform auth guard).
const authenticate_merchant = m.requestsAuthenticate;
const authenticate_holder = a.tokensVerify;

export const nats_bus: Readonly<Record<ServiceName, ServiceBus>> = {
  accounts: {
    serves: Object.values(a),
    calls: [authenticate_merchant],
    broadcasts: [replicaCensusSubject('accounts'), credentialCacheSubject('accounts')],
    announces: [Broadcasts.accountCredentialsRevoked],
    events: 'publishes',
    event_types: ['account.*'],
  },
  merchants: {
    serves: Object.values(m),
    calls: [a.accountsCreate, a.balancesGet, authenticate_holder],
    broadcasts: [Broadcasts.merchantsChanged, replicaCensusSubject('merchants'), credentialCacheSubject('merchants')],
    announces: [Broadcasts.merchantCredentialsRevoked],
    events: 'publishes',
    event_types: ['webhook_endpoint.*'],
  },
  payments: {
    serves: [],
    calls: [a.transfersPost, a.transfersGet, a.holdsPlace, a.holdsPost, a.holdsVoid, a.holdsGet, authenticate_holder, authenticate_merchant],
    broadcasts: [replicaCensusSubject('payments')],
    events: 'publishes',
    event_types: ['payment_intent.*', 'refund.*'],
  },
  push: {
    serves: [],
    calls: [
      m.merchantsGet,
      m.streamTokensVerify,
      m.webhooksSign,
      m.webhookEndpointsEnabled,
      m.webhookEndpointsStates,
      m.webhookEndpointsDisable,
      a.streamTokensVerify,
      authenticate_holder,
      authenticate_merchant,
    ],
    broadcasts: [replicaCensusSubject('push')],
    // Its cache of merchants' endpoint lists is dropped by merchants' change broadcast; revocations close streams.
    hears: [Broadcasts.merchantsChanged, Broadcasts.merchantCredentialsRevoked, Broadcasts.accountCredentialsRevoked],
    events: 'consumes',
  },
};

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  /** May publish to the reply subject of a request it received (once, within the server's default window). */
  allow_responses: boolean;
}

/** The exact permissions of each user under one NATS_PREFIX. */
export function natsPermissions(prefix: string): Record<NatsUserName, NatsPermissions> {
  const names = natsNames(prefix);
  const permissions = { operator: { publish: ['>'], subscribe: ['>'], allow_responses: true } } as Record<NatsUserName, NatsPermissions>;
  for (const service of serviceNames) {
    const bus = nats_bus[service];
    permissions[service] = {
      publish: [...bus.calls.map(names.request), ...[...(bus.broadcasts ?? []), ...(bus.announces ?? [])].map(names.request), ...jetStreamPublish(prefix, bus)],
      subscribe: [
        ...bus.serves.map(names.request),
        ...[...(bus.broadcasts ?? []), ...(bus.hears ?? [])].map(names.request),
        `${names.inboxPrefix(service)}.>`,
      ],
      allow_responses: bus.serves.length > 0,
    };
  }
  return permissions;
}

/**
 * JetStream is request-reply on `$JS.API.>`: scoped to the events stream.
 * Both may create the stream (whichever boots first); neither may update,
 * purge or delete it, and both check its subjects at boot (ensureEventsStream).
 */
function jetStreamPublish(prefix: string, { events: role, event_types }: ServiceBus): string[] {
  if (role === 'none') return [];
  const { events_stream: stream, events_filter, eventSubject } = natsNames(prefix);
  const stream_api = ['$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`];
  if (role === 'publishes') return [...(event_types === undefined ? [events_filter] : event_types.map(eventSubject)), ...stream_api];
  return [
    ...stream_api,
    // Consumers of this stream only: create, update, info, delete (`CONSUMER.<verb>.<stream>.<name>[.<filter>]`).
    `$JS.API.CONSUMER.*.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

export interface NatsCredentials {
  user: string;
  password: string;
}
export type NatsUsers = Record<NatsUserName, NatsCredentials>;

const password_bytes = 24;

/**
 * Fresh users with random passwords. The leading letter keeps nats-server
 * from reading a password given through a `$VARIABLE` as a number.
 */
export function generateNatsUsers(): NatsUsers {
  return Object.fromEntries(
    nats_user_names.map((name) => [name, { user: name, password: `p${randomBytes(password_bytes).toString('hex')}` }]),
  ) as NatsUsers;
}

/** The environment variable a user's password is read from by nats-server (`password: $VARIABLE`). */
export function natsPasswordVariable(name: NatsUserName): string {
  return `PAYNET_NATS_${name.toUpperCase()}_PASSWORD`;
}

/** nats-server's environment: every user's password in its variable. */
export function natsPasswordEnv(users: NatsUsers): Record<string, string> {
  return Object.fromEntries(nats_user_names.map((name) => [natsPasswordVariable(name), users[name].password]));
}

/** A service's own credentials, as it reads them (NATS_USER / NATS_PASSWORD). */
export function serviceNatsEnv(users: NatsUsers, name: ServiceName): Record<string, string> {
  return { NATS_USER: users[name].user, NATS_PASSWORD: users[name].password };
}

/**
 * nats-server's `authorization` block for one prefix. Passwords are not in
 * it (`$PAYNET_NATS_<USER>_PASSWORD`, from nats-server's environment), so the
 * same text serves every run and is committed as docker/nats-server.conf.
 */
export function natsAuthorizationConfig(prefix: string): string {
  const permissions = natsPermissions(prefix);
  const list = (subjects: string[]) => `[${subjects.map((subject) => JSON.stringify(subject)).join(', ')}]`;
  const users = nats_user_names.map((name) => {
    const { publish, subscribe, allow_responses } = permissions[name];
    return [
      `    {`,
      `      user: ${JSON.stringify(name)}, password: $${natsPasswordVariable(name)}`,
      `      permissions: {`,
      `        publish: { allow: ${list(publish)} }`,
      `        subscribe: { allow: ${list(subscribe)} }`,
      ...(allow_responses ? [`        allow_responses: true`] : []),
      `      }`,
      `    }`,
    ].join('\n');
  });
  return [
    `# Generated from libs/devstack/src/nats-users.ts for NATS_PREFIX=${prefix}; do not edit by hand.`,
    `# Passwords come from nats-server's environment (${natsPasswordVariable('accounts')} and so on).`,
    `authorization {`,
    `  users = [`,
    users.join('\n'),
    `  ]`,
    `}`,
    ``,
  ].join('\n');
}
