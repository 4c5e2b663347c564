import { SetMetadata } from '@nestjs/common';

export const RATE_LIMIT_EXEMPT = 'paynet:rate-limit-exempt';

/**
 * A public route the rate limits leave alone: health probes and metrics
 * scrapes, which a load balancer or Prometheus sends from one address and
 * which must not be refused when that address is busy.
 */
export const RateLimitExempt = () => SetMetadata(RATE_LIMIT_EXEMPT, true);

/**
 * The paths of the exempt routes (HealthController, MetricsController), for
 * EarlyRefusal, which runs before routing and so cannot read the decorator.
 */
export const rate_limit_exempt_path = /^\/(?:health|metrics)(?:[/?]|$)/i;
