import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { ApiError, ErrorCode } from '@paynet/contracts';
import { timingSafeEqual, createHash } from 'node:crypto';
import { RATE_LIMIT_EXEMPT } from '../rate-limits/rate-limit-exempt.js';
import { credentialDigest, RateLimits } from '../rate-limits/rate-limits.js';
import {
  AUTH_KINDS,
  type AuthenticatedRequest,
  HOLDER_AUTHENTICATOR,
  type HolderAuthenticator,
  holder_token_prefix,
  MANAGES_CREDENTIALS,
  MERCHANT_AUTHENTICATOR,
  type MerchantAuthenticator,
  type Principal,
  type PrincipalKind,
  principalScope,
} from './principal.js';

export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

/**
 * Finds who is calling, and lets the call through only if the route allows
 * that kind and its rate limits (RateLimits) have room: a request is charged
 * before its credentials are checked, so an out-of-budget flood never reaches
 * merchants or accounts, and nothing after the guard runs for a 429.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly admin_token_digest: Buffer;
  private authenticators: { merchants: MerchantAuthenticator; holders: HolderAuthenticator } | undefined;

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly limits: RateLimits,
    @Inject(ADMIN_TOKEN) admin_token: string,
  ) {
    this.admin_token_digest = digest(admin_token);
  }

  /** Found across modules: a service that checks credentials itself provides its own in its feature module. */
  private get merchants(): MerchantAuthenticator {
    return this.resolve().merchants;
  }
  private get holders(): HolderAuthenticator {
    return this.resolve().holders;
  }
  private resolve() {
    this.authenticators ??= {
      merchants: this.moduleRef.get(MERCHANT_AUTHENTICATOR, { strict: false }),
      holders: this.moduleRef.get(HOLDER_AUTHENTICATOR, { strict: false }),
    };
    return this.authenticators;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const kinds = this.reflector.getAllAndOverride<PrincipalKind[] | undefined>(AUTH_KINDS, [
      context.getHandler(),
      context.getClass(),
    ]);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const address = this.limits.clientAddress(request);
    if (!kinds) {
      const exempt = this.reflector.getAllAndOverride<boolean | undefined>(RATE_LIMIT_EXEMPT, [context.getHandler(), context.getClass()]);
      if (!exempt) await this.limits.admitAnonymous(address);
      return true;
    }
    const ticket = await this.limits.beforeCheck(address, claimedCredential(request));
    let principal: Principal;
    try {
      principal = await this.identify(request, kinds);
    } catch (error) {
      await this.limits.checkFailed(ticket);
      throw error;
    }
    await this.limits.authenticated(ticket, principalScope(principal));
    if (!kinds.includes(principal.kind)) {
      throw ApiError.forbidden('This API key or token may not call this endpoint.');
    }
    if (principal.kind === 'merchant' && principal.api_key.expires_at !== null && this.managesCredentials(context)) {
      throw ApiError.forbidden(
        'This API key was rotated and is in its grace period: it may read, but may not rotate keys or change webhook endpoints. Sign with the new key.',
      );
    }
    request.principal = principal;
    return true;
  }

  private managesCredentials(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean | undefined>(MANAGES_CREDENTIALS, [context.getHandler(), context.getClass()]) === true;
  }

  private async identify(request: AuthenticatedRequest, kinds: PrincipalKind[]): Promise<Principal> {
    if (request.header('x-api-key') !== undefined) {
      const { api_key, ...merchant } = await this.merchants.authenticate(request);
      return { kind: 'merchant', merchant, api_key };
    }
    const bearer = /^Bearer (\S+)$/.exec(request.header('authorization') ?? '')?.[1];
    if (bearer === undefined) {
      throw ApiError.unauthorized(ErrorCode.authentication_required, describeExpected(kinds));
    }
    if (timingSafeEqual(digest(bearer), this.admin_token_digest)) return { kind: 'operator' };
    if (bearer.startsWith(holder_token_prefix)) {
      const { account_id, currency, credential } = await this.holders.authenticate(bearer);
      return { kind: 'holder', account_id, currency, credential };
    }
    throw ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid bearer token.');
  }
}

/** What the request presents as its credential, digested: the merchant's key id, or the bearer token. */
function claimedCredential(request: AuthenticatedRequest): string | undefined {
  const api_key = request.header('x-api-key');
  if (api_key !== undefined) return credentialDigest('merchant', api_key);
  const authorization = request.header('authorization');
  return authorization === undefined ? undefined : credentialDigest('authorization', authorization);
}

/** Comparing digests keeps the comparison constant-time whatever the lengths. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function describeExpected(kinds: PrincipalKind[]): string {
  const ways = kinds.map((kind) =>
    kind === 'merchant' ? 'a signed request (X-Api-Key, X-Timestamp, X-Nonce, X-Signature)' : `a ${kind} bearer token`,
  );
  return `Authentication required: ${ways.join(' or ')}.`;
}
