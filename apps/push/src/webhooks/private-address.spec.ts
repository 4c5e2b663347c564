import { isNonPublicAddress, refusedDestination } from './private-address.js';

describe('private webhook destinations', () => {
  it('refuses loopback, private, link-local, CGNAT and unspecified addresses', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect([address, isNonPublicAddress(address)]).toEqual([address, true]);
    }
  });

  it('allows public addresses, including the neighbours of private ranges', () => {
    for (const address of ['8.8.8.8', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '11.0.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect([address, isNonPublicAddress(address)]).toEqual([address, false]);
    }
  });

  it('checks IP literals in URLs without a lookup, and refuses other schemes', async () => {
    expect(await refusedDestination(new URL('http://127.0.0.1:8080/hook'))).toMatch(/private/);
    expect(await refusedDestination(new URL('http://[::1]/hook'))).toMatch(/private/);
    expect(await refusedDestination(new URL('https://8.8.8.8/hook'))).toBeNull();
    expect(await refusedDestination(new URL('ftp://8.8.8.8/hook'))).toMatch(/scheme/);
  });

  it('resolves names before deciding: localhost is loopback', async () => {
    expect(await refusedDestination(new URL('http://localhost/hook'))).toMatch(/private/);
  });
});
