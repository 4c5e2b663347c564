import { ApiError, ErrorCode } from '@paynet/contracts';
import { isIP } from 'node:net';

/**
 * First line against SSRF: refuse webhook URLs naming loopback, private or
 * link-local hosts unless WEBHOOK_ALLOW_PRIVATE. (push checks the resolved
 * address again at delivery time; a name can resolve anywhere.)
 */
const private_ipv4 = [/^127\./, /^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^169\.254\./, /^0\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];

export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) return true;
  if (isIP(host) === 4) return private_ipv4.some((pattern) => pattern.test(host));
  if (isIP(host) === 6) return host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith('::ffff:');
  return false;
}

export function checkWebhookUrl(url: string | null | undefined, allow_private: boolean): string | null {
  if (url === null || url === undefined) return null;
  if (!allow_private && isPrivateHost(new URL(url).hostname)) {
    throw ApiError.badRequest(ErrorCode.parameter_invalid, 'webhook_url may not point at a private or loopback address.', 'webhook_url');
  }
  return url;
}
