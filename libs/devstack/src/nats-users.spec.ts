import { Broadcasts, natsNames, replicaCensusSubject, Subjects } from '@paynet/contracts';
import { generateNatsUsers, natsAuthorizationConfig, natsPermissions, serviceNatsEnv } from './nats-users.js';

const prefix = 'pfx';
const names = natsNames(prefix);
const permissions = natsPermissions(prefix);

/** Whether a NATS subject pattern (with * and >) matches a concrete subject. */
function matches(pattern: string, subject: string): boolean {
  const want = pattern.split('.');
  const got = subject.split('.');
  for (let index = 0; index < want.length; index++) {
    if (want[index] === '>') return got.length > index;
    if (want[index] !== '*' && want[index] !== got[index]) return false;
  }
  return want.length === got.length;
}

const may = (list: string[], subject: string) => list.some((pattern) => matches(pattern, subject));
const services = ['accounts', 'merchants', 'payments', 'push'] as const;

describe('the NATS permissions table', () => {
  it('lets only payments send ledger commands and publish payment events', () => {
    const ledger = [Subjects.accounts.transfersPost, Subjects.accounts.holdsPlace, Subjects.accounts.holdsPost, Subjects.accounts.holdsVoid].map(names.request);
    const payment_events = ['payment_intent.succeeded', 'refund.succeeded'].map(names.eventSubject);
    for (const service of services) {
      for (const subject of [...ledger, ...payment_events]) {
        expect({ service, subject, may: may(permissions[service].publish, subject) }).toEqual({ service, subject, may: service === 'payments' });
      }
    }
  });

  it("lets each publisher publish its own events only: nobody but accounts a wallet's balance", () => {
    const owners: Record<string, (typeof services)[number]> = {
      'account.balance_updated': 'accounts',
      'payment_intent.created': 'payments',
      'refund.succeeded': 'payments',
      'webhook_endpoint.disabled': 'merchants',
    };
    for (const service of services) {
      for (const [type, owner] of Object.entries(owners)) {
        expect({ service, type, may: may(permissions[service].publish, names.eventSubject(type)) }).toEqual({ service, type, may: service === owner });
      }
      expect(may(permissions[service].publish, names.events_filter)).toBe(false);
    }
  });

  it("lets every service's replicas tell each other they are alive (the rate limits' census), and no one else's", () => {
    for (const service of services) {
      for (const other of services) {
        const census = names.request(replicaCensusSubject(other));
        const own = service === other;
        expect({ service, other, publish: may(permissions[service].publish, census), subscribe: may(permissions[service].subscribe, census) }).toEqual({ service, other, publish: own, subscribe: own });
      }
    }
  });

  it("lets merchants publish its endpoints' events only, and send merchant changes, which merchants and push hear", () => {
    expect(may(permissions.merchants.publish, names.eventSubject('webhook_endpoint.disabled'))).toBe(true);
    expect(may(permissions.merchants.publish, names.eventSubject('refund.succeeded'))).toBe(false);
    for (const service of services) {
      const changed = names.request(Broadcasts.merchantsChanged);
      expect({ service, publish: may(permissions[service].publish, changed), subscribe: may(permissions[service].subscribe, changed) }).toEqual({
        service,
        publish: service === 'merchants',
        subscribe: service === 'merchants' || service === 'push',
      });
    }
  });

  it("lets push ask merchants for merchants' enabled endpoints, their states and signatures", () => {
    for (const pattern of [Subjects.merchants.webhookEndpointsEnabled, Subjects.merchants.webhookEndpointsStates, Subjects.merchants.webhookEndpointsDisable]) {
      expect(may(permissions.push.publish, names.request(pattern))).toBe(true);
      expect(may(permissions.payments.publish, names.request(pattern))).toBe(false);
    }
  });

  it('lets only merchants answer signing and authentication requests, and only accounts ledger requests', () => {
    for (const service of services) {
      expect(may(permissions[service].subscribe, names.request(Subjects.merchants.webhooksSign))).toBe(service === 'merchants');
      expect(may(permissions[service].subscribe, names.request(Subjects.merchants.requestsAuthenticate))).toBe(service === 'merchants');
      expect(may(permissions[service].subscribe, names.request(Subjects.accounts.transfersPost))).toBe(service === 'accounts');
      expect(permissions[service].allow_responses).toBe(service === 'accounts' || service === 'merchants');
    }
  });

  it('keeps push away from the ledger and from balances', () => {
    const token_checks: string[] = [Subjects.accounts.tokensVerify, Subjects.accounts.streamTokensVerify];
    for (const pattern of Object.values(Subjects.accounts).filter((subject) => !token_checks.includes(subject))) {
      expect(may(permissions.push.publish, names.request(pattern))).toBe(false);
    }
    expect(may(permissions.push.publish, names.request(Subjects.merchants.webhooksSign))).toBe(true);
  });

  it('lets only the owner of a credential announce its revocation, and every push replica hear it', () => {
    const revocations = { merchants: Broadcasts.merchantCredentialsRevoked, accounts: Broadcasts.accountCredentialsRevoked } as const;
    for (const [owner, subject] of Object.entries(revocations)) {
      for (const service of services) {
        expect(may(permissions[service].publish, names.request(subject))).toBe(service === owner);
        expect(may(permissions[service].subscribe, names.request(subject))).toBe(service === 'push');
      }
    }
  });

  it("gives each service its own inbox to read, never another's, and nothing outside the prefix", () => {
    for (const service of services) {
      for (const other of services) {
        expect(may(permissions[service].subscribe, `${names.inboxPrefix(other)}.abc`)).toBe(service === other);
      }
      expect(may(permissions[service].subscribe, '_INBOX.abc')).toBe(false);
      expect(may(permissions[service].publish, 'otherprefix.accounts.transfers.post')).toBe(false);
      expect(may([...permissions[service].publish, ...permissions[service].subscribe], '>')).toBe(false);
    }
  });

  it('scopes JetStream to the events stream: its publishers and push may create it, nobody may delete or purge it', () => {
    const stream = names.events_stream;
    for (const service of services) {
      const publish = permissions[service].publish;
      expect(may(publish, `$JS.API.STREAM.CREATE.${stream}`)).toBe(true);
      expect(may(publish, `$JS.API.STREAM.DELETE.${stream}`)).toBe(false);
      expect(may(publish, `$JS.API.STREAM.PURGE.${stream}`)).toBe(false);
      expect(may(publish, `$JS.API.STREAM.CREATE.other_events`)).toBe(false);
      expect(may(publish, `$JS.API.CONSUMER.MSG.NEXT.${stream}.push-webhooks`)).toBe(service === 'push');
      expect(may(publish, `$JS.ACK.${stream}.push-webhooks.1.2.3.4.5`)).toBe(service === 'push');
    }
  });

  it('writes nats-server users whose passwords come from the environment, not the file', () => {
    const users = generateNatsUsers();
    const config = natsAuthorizationConfig(prefix);
    expect(config).toContain('password: $PAYNET_NATS_PUSH_PASSWORD');
    for (const { password } of Object.values(users)) expect(config).not.toContain(password);
    expect(serviceNatsEnv(users, 'push')).toEqual({ NATS_USER: 'push', NATS_PASSWORD: users.push.password });
    expect(generateNatsUsers().push.password).not.toBe(users.push.password);
  });
});
