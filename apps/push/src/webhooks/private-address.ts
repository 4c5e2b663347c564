import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * SSRF guard for webhook URLs when WEBHOOK_ALLOW_PRIVATE is off: a URL whose
 * host is, or resolves to, a loopback, private, link-local or otherwise
 * non-public address is refused. IPv4-mapped IPv6 addresses are checked as
 * the IPv4 address they carry (BlockList does that).
 */
const non_public = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  non_public.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  non_public.addSubnet(network, prefix, 'ipv6');
}

/** Pure: is this IP literal anything but a public unicast address? */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`not an IP address: ${address}`);
  return non_public.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export const dns_lookup_timeout_ms = 5_000;

/** Every address the URL's host stands for; an IP literal stands for itself. */
async function addressesOf(hostname: string): Promise<string[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) return [host];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('DNS lookup timed out')), dns_lookup_timeout_ms);
  });
  try {
    const found = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
    return found.map((entry) => entry.address);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why the URL may not be called, or null when it may. (A name can resolve
 * differently a moment later; pinning the checked address in the HTTP
 * client would close that gap and is left for later.)
 */
export async function refusedDestination(url: URL): Promise<string | null> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `scheme ${url.protocol} is not allowed`;
  const addresses = await addressesOf(url.hostname);
  if (addresses.length === 0) return 'the host has no address';
  const refused = addresses.find(isNonPublicAddress);
  return refused === undefined ? null : `the host resolves to a private address (${refused})`;
}
