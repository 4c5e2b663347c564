import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity } from '@nestjs/swagger';
import type { AuthenticateReply, Currency, MerchantPrincipal, SigningKey } from '@paynet/contracts';
import type { Request } from 'express';
import { ApiErrors } from '../openapi/api-errors.js';

export type Principal =
  | { kind: 'operator' }
  | { kind: 'merchant'; merchant: MerchantPrincipal; api_key: SigningKey }
  /** `credential`: the id of the account token used (what a rotation revokes). */
  | { kind: 'holder'; account_id: string; currency: Currency; credential: string };
export type PrincipalKind = Principal['kind'];

export type AuthenticatedRequest = Request & { principal?: Principal; rawBody?: Buffer };

/** Prefix of holder account tokens; merchant stream tokens use `st_`, holder stream tokens `hst_` (the stream only, never a bearer). */
export const holder_token_prefix = 'at_';
export const stream_token_prefix = 'st_';
export const holder_stream_token_prefix = 'hst_';

export const AUTH_KINDS = 'paynet:auth-kinds';
export const MANAGES_CREDENTIALS = 'paynet:manages-credentials';

/**
 * The route manages credentials (rotates API keys, changes webhook
 * endpoints): an API key in a rotation's grace period may not call it (403,
 * API.md). Otherwise a leaked old key could rotate again and lock the owner out.
 */
export const ManagesCredentials = () => SetMetadata(MANAGES_CREDENTIALS, true);

/**
 * Who may call this route. A route without it is public (health, metrics,
 * docs). Also documents, in OpenAPI, how to authenticate and the answers
 * every authenticated route can give: 401/403, 429 (rate limits, checked
 * with the credentials) and 503 (the credentials' check or the route's
 * work could not reach what it needs).
 */
export const Auth = (...kinds: PrincipalKind[]) =>
  applyDecorators(
    SetMetadata(AUTH_KINDS, kinds),
    ...(kinds.includes('merchant') ? [ApiSecurity('merchant')] : []),
    ...(kinds.some((kind) => kind !== 'merchant') ? [ApiBearerAuth('bearer')] : []),
    ApiErrors(401, 403, 429, 503),
  );

export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal on a route without @Auth');
  return principal;
});

/** A key unique per principal: idempotency keys, rate limits and nonces are scoped by it. */
export function principalScope(principal: Principal): string {
  switch (principal.kind) {
    case 'operator':
      return 'operator';
    case 'merchant':
      return `merchant:${principal.merchant.merchant_id}`;
    case 'holder':
      return `holder:${principal.account_id}`;
  }
}

/** Checks a merchant-signed request; throws a 401 ApiError when it fails. */
export interface MerchantAuthenticator {
  authenticate(request: AuthenticatedRequest): Promise<AuthenticateReply>;
}
/** Checks a holder's bearer token; throws a 401 ApiError when it fails. */
export interface HolderAuthenticator {
  authenticate(token: string): Promise<{ account_id: string; currency: Currency; credential: string }>;
}
export const MERCHANT_AUTHENTICATOR = Symbol('MERCHANT_AUTHENTICATOR');
export const HOLDER_AUTHENTICATOR = Symbol('HOLDER_AUTHENTICATOR');
