import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE: every
 * block of the IANA special-purpose address registries (IPv4: RFC 6890 and
 * its updates; IPv6: the same registry), whether or not IANA marks it
 * globally reachable, because no merchant's endpoint lives there. IPv6 is
 * decided the other way round as well: only global unicast (2000::/3) can be
 * public, so a block added to the registry later outside it is covered.
 */
const ipv4_special: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata at 169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.31.196.0', 24], // AS112-v4
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['192.175.48.0', 24], // direct delegation AS112
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the limited broadcast 255.255.255.255
];

/** Special-purpose blocks inside 2000::/3 (everything outside it is refused anyway). */
const ipv6_special_in_global: readonly (readonly [string, number])[] = [
  ['2001::', 23], // IETF protocol assignments: Teredo, benchmarking 2001:2::/48, ORCHID, ...
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: carries an IPv4 address we would not see
  ['3fff::', 20], // documentation (RFC 9637)
];

const ipv4_blocked = new BlockList();
for (const [network, prefix] of ipv4_special) ipv4_blocked.addSubnet(network, prefix, 'ipv4');

const ipv6_blocked = new BlockList();
for (const [network, prefix] of ipv6_special_in_global) ipv6_blocked.addSubnet(network, prefix, 'ipv6');

const ipv6_global_unicast = new BlockList();
ipv6_global_unicast.addSubnet('2000::', 3, 'ipv6');

/** ::ffff:0:0/96: an IPv4 address written as IPv6; it is judged as the IPv4 address it carries. */
const ipv4_mapped = new BlockList();
ipv4_mapped.addSubnet('::ffff:0:0', 96, 'ipv6');

/**
 * Pure: is this IP literal anything but a public unicast address? NAT64
 * (64:ff9b::/96, 64:ff9b:1::/48), ULA (fc00::/7), link-local (fe80::/10),
 * multicast (ff00::/8), loopback, unspecified and IPv4-compatible addresses
 * all lie outside 2000::/3.
 */
export function isSpecialPurposeAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`not an IP address: ${address}`);
  if (family === 4) return ipv4_blocked.check(address, 'ipv4');
  // BlockList applies IPv4 rules to IPv4-mapped IPv6 addresses.
  if (ipv4_mapped.check(address, 'ipv6')) return ipv4_blocked.check(address, 'ipv6');
  return !ipv6_global_unicast.check(address, 'ipv6') || ipv6_blocked.check(address, 'ipv6');
}
