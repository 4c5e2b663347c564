import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { ApiError, ErrorCode } from '@paynet/contracts';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { RATE_LIMIT_EXEMPT } from '../rate-limits/rate-limit-exempt.js';
import { type CheckTicket, claimedCredential, RateLimits } from '../rate-limits/rate-limits.js';
import { RequestAdmission } from '../rate-limits/request-admission.js';
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
 * merchants or accounts, and nothing after the guard runs for a 429. Then
 * it takes one of the replica's request slots (RequestAdmission: fair across
 * principals, held until the response is finished) before the credentials are
 * checked, so the check is part of the work the slot bounds.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly admin_token_digest: Buffer;
  private authenticators: { merchants: MerchantAuthenticator; holders: HolderAuthenticator } | undefined;

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly limits: RateLimits,
    private readonly admission: RequestAdmission,
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
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const response = http.getResponse<ServerResponse>();
    const address = this.limits.clientAddress(request);
    if (!kinds) {
      const exempt = this.reflector.getAllAndOverride<boolean | undefined>(RATE_LIMIT_EXEMPT, [context.getHandler(), context.getClass()]);
      if (exempt) return true;
      await this.limits.admitAnonymous(address);
      return this.admitted(await this.admission.admit(`address:${address}`, request, response));
    }
    const ticket = await this.limits.beforeCheck(address, claimedCredential(request));
    this.admitted(await this.admission.admit(admissionKey(ticket), request, response));
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

  /**
   * The client went away while its request waited for a slot: nothing runs
   * for it, and nobody reads the answer (a 4xx, so not logged as a failure).
   */
  private admitted(held: boolean): true {
    if (!held) throw ApiError.rateLimited('The client closed the connection before the request was admitted.', 1);
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

/** Whose turn a request takes: the principal its credential was seen to be, else its address (docs/SECURITY.md). */
function admissionKey(ticket: CheckTicket): string {
  return ticket.charged.budget === 'principal' ? `principal:${ticket.charged.scope}` : `address:${ticket.address}`;
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
