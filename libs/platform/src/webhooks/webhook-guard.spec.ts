import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { isSpecialPurposeAddress } from './special-addresses.js';
import { type Resolver, WebhookClient, webhookAllowPrivate, webhookDestinationProblem, webhookUrlProblem } from './webhook-guard.js';

/** Each special-purpose block with its first and last address, and the public neighbours just outside it. */
const ipv4_boundaries: readonly [string, string, string, string | null, string | null][] = [
  ['this network', '0.0.0.0', '0.255.255.255', null, '1.0.0.0'],
  ['private 10/8', '10.0.0.0', '10.255.255.255', '9.255.255.255', '11.0.0.0'],
  ['shared 100.64/10', '100.64.0.0', '100.127.255.255', '100.63.255.255', '100.128.0.0'],
  ['loopback', '127.0.0.0', '127.255.255.255', '126.255.255.255', '128.0.0.0'],
  ['link-local', '169.254.0.0', '169.254.255.255', '169.253.255.255', '169.255.0.0'],
  ['private 172.16/12', '172.16.0.0', '172.31.255.255', '172.15.255.255', '172.32.0.0'],
  ['IETF protocol assignments', '192.0.0.0', '192.0.0.255', '191.255.255.255', '192.0.1.0'],
  ['TEST-NET-1', '192.0.2.0', '192.0.2.255', '192.0.1.255', '192.0.3.0'],
  ['AS112-v4', '192.31.196.0', '192.31.196.255', '192.31.195.255', '192.31.197.0'],
  ['AMT', '192.52.193.0', '192.52.193.255', '192.52.192.255', '192.52.194.0'],
  ['6to4 relay anycast', '192.88.99.0', '192.88.99.255', '192.88.98.255', '192.88.100.0'],
  ['private 192.168/16', '192.168.0.0', '192.168.255.255', '192.167.255.255', '192.169.0.0'],
  ['AS112 direct delegation', '192.175.48.0', '192.175.48.255', '192.175.47.255', '192.175.49.0'],
  ['benchmarking', '198.18.0.0', '198.19.255.255', '198.17.255.255', '198.20.0.0'],
  ['TEST-NET-2', '198.51.100.0', '198.51.100.255', '198.51.99.255', '198.51.101.0'],
  ['TEST-NET-3', '203.0.113.0', '203.0.113.255', '203.0.112.255', '203.0.114.0'],
  ['multicast', '224.0.0.0', '239.255.255.255', '223.255.255.255', null],
  ['reserved and broadcast', '240.0.0.0', '255.255.255.255', null, null],
];

const ipv6_boundaries: readonly [string, string, string, string | null, string | null][] = [
  ['unspecified, loopback, IPv4-compatible', '::', '::ffff:ffff', null, null],
  ['IPv4-mapped private', '::ffff:10.0.0.0', '::ffff:10.255.255.255', '::ffff:9.255.255.255', '::ffff:11.0.0.0'],
  ['IPv4-mapped loopback (hex)', '::ffff:7f00:0', '::ffff:7fff:ffff', '::ffff:7eff:ffff', '::ffff:8000:0'],
  ['NAT64', '64:ff9b::', '64:ff9b::ffff:ffff', null, null],
  ['local-use NAT64', '64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff', null, null],
  ['discard-only', '100::', '100::ffff:ffff:ffff:ffff', null, null],
  ['IETF protocol assignments, Teredo, benchmarking', '2001::', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', null, '2001:200::'],
  ['documentation 2001:db8::/32', '2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::'],
  ['6to4', '2002::', '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2003::'],
  ['documentation 3fff::/20', '3fff::', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', '3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '3fff:1000::'],
  ['unique local', 'fc00::', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null, null],
  ['link-local', 'fe80::', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null, null],
  ['multicast', 'ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null, null],
  ['outside global unicast', '4000::', 'dfff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null],
];

describe('special-purpose webhook destinations', () => {
  it('refuses the first and last address of every IPv4 special-purpose block and allows the public address beside it', () => {
    for (const [name, first, last, before, after] of [...ipv4_boundaries, ...ipv6_boundaries]) {
      expect([name, first, isSpecialPurposeAddress(first)]).toEqual([name, first, true]);
      expect([name, last, isSpecialPurposeAddress(last)]).toEqual([name, last, true]);
      for (const neighbour of [before, after]) {
        if (neighbour !== null) expect([name, neighbour, isSpecialPurposeAddress(neighbour)]).toEqual([name, neighbour, false]);
      }
    }
  });

  it('allows public unicast addresses of both families, IPv4-mapped included', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8']) {
      expect([address, isSpecialPurposeAddress(address)]).toEqual([address, false]);
    }
  });

  it('refuses what is not an IP literal loudly', () => {
    expect(() => isSpecialPurposeAddress('example.com')).toThrow(TypeError);
  });
});

describe('webhook URLs', () => {
  it('accepts https anywhere public, and http only where private addresses are allowed', () => {
    expect(webhookUrlProblem('https://hooks.example.com/paynet', false)).toBeNull();
    expect(webhookUrlProblem('http://hooks.example.com/paynet', false)).toMatch(/https/);
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', true)).toBeNull();
    expect(webhookUrlProblem('ftp://hooks.example.com/', true)).toMatch(/http/);
  });

  it('refuses credentials, relative URLs and overlong ones whatever the setting', () => {
    for (const allow_private of [true, false]) {
      expect(webhookUrlProblem('https://user:pw@hooks.example.com/', allow_private)).toMatch(/credentials/);
      expect(webhookUrlProblem('https://user@hooks.example.com/', allow_private)).toMatch(/credentials/);
      expect(webhookUrlProblem('/hooks', allow_private)).toMatch(/absolute/);
      expect(webhookUrlProblem(`https://hooks.example.com/${'a'.repeat(2_048)}`, allow_private)).toMatch(/longer/);
    }
  });

  it('judges IP literals without a lookup, brackets and all', () => {
    expect(webhookUrlProblem('https://127.0.0.1/hook', false)).toMatch(/private/);
    expect(webhookUrlProblem('https://[::1]/hook', false)).toMatch(/private/);
    expect(webhookUrlProblem('https://[::ffff:169.254.169.254]/hook', false)).toMatch(/private/);
    expect(webhookUrlProblem('https://[64:ff9b::a9fe:a9fe]/hook', false)).toMatch(/private/);
    expect(webhookUrlProblem('https://8.8.8.8/hook', false)).toBeNull();
  });

  it('resolves names at registration: a name for a private address is refused', async () => {
    const resolve: Resolver = async () => [{ address: '10.0.0.7', family: 4 }];
    expect(await webhookDestinationProblem('https://intranet.example.com/hook', { allow_private: false, resolve })).toMatch(/10\.0\.0\.7/);
    expect(await webhookDestinationProblem('https://intranet.example.com/hook', { allow_private: true, resolve })).toBeNull();
    const public_resolve: Resolver = async () => [{ address: '93.184.215.14', family: 4 }];
    expect(await webhookDestinationProblem('https://hooks.example.com/hook', { allow_private: false, resolve: public_resolve })).toBeNull();
    // Not resolvable yet is not private: delivery checks again at connect.
    const no_answer: Resolver = async () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    expect(await webhookDestinationProblem('https://soon.example.com/hook', { allow_private: false, resolve: no_answer })).toBeNull();
  });

  it('reads WEBHOOK_ALLOW_PRIVATE as API.md says: true unless production', () => {
    expect(webhookAllowPrivate(undefined, 'development')).toBe(true);
    expect(webhookAllowPrivate(undefined, undefined)).toBe(true);
    expect(webhookAllowPrivate(undefined, 'production')).toBe(false);
    expect(webhookAllowPrivate('true', 'production')).toBe(true);
    expect(webhookAllowPrivate('false', 'development')).toBe(false);
  });
});

describe('webhook delivery through the guard', () => {
  let server: Server;
  let connections = 0;
  let port: number;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('never reaches 127.0.0.1 through a name that answers a public address first and loopback next (DNS rebinding)', async () => {
    const answers: LookupAddress[][] = [[{ address: '192.88.100.1', family: 4 }], [{ address: '127.0.0.1', family: 4 }], [{ address: '127.0.0.1', family: 4 }]];
    let lookups = 0;
    const resolve: Resolver = async () => answers[Math.min(lookups++, answers.length - 1)] as LookupAddress[];
    const client = new WebhookClient({ allow_private: false, resolve });
    const before = connections;
    try {
      const post = { url: `https://rebind.example.com:${port}/hook`, headers: { 'content-type': 'application/json' }, body: '{}', timeout_ms: 2_000 };
      const first = await client.post(post);
      const second = await client.post(post);
      // The first connection went to the public address it checked (nothing listens there in a sandbox); the second was refused.
      expect(first.kind).toBe('no_response');
      expect(second).toEqual({ kind: 'no_response', reason: expect.stringMatching(/127\.0\.0\.1/) });
      expect(lookups).toBeGreaterThanOrEqual(2);
      expect(connections - before).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('reaches loopback when private addresses are allowed, so the check above is what stops it', async () => {
    const client = new WebhookClient({ allow_private: true });
    const before = connections;
    try {
      await client.post({ url: `http://127.0.0.1:${port}/hook`, headers: {}, body: '{}', timeout_ms: 2_000 });
      expect(connections - before).toBe(1);
    } finally {
      await client.close();
    }
  });
});
