import { Injectable } from '@nestjs/common';
import {
  type AuthenticateReply,
  type AuthenticateRequest,
  Subjects,
  type VerifyAccountTokenReply,
} from '@paynet/contracts';
import { RpcClient } from '../nats/rpc-client.js';
import type { AuthenticatedRequest, HolderAuthenticator, MerchantAuthenticator } from './principal.js';

/** Merchant signatures are checked by merchants, the only holder of API secrets. */
@Injectable()
export class NatsMerchantAuthenticator implements MerchantAuthenticator {
  constructor(private readonly rpc: RpcClient) {}

  authenticate(request: AuthenticatedRequest): Promise<AuthenticateReply> {
    return this.rpc.request<AuthenticateReply>(Subjects.merchants.requestsAuthenticate, signedRequestOf(request));
  }
}

/** Holder tokens are checked by accounts, which keeps their hashes. */
@Injectable()
export class NatsHolderAuthenticator implements HolderAuthenticator {
  constructor(private readonly rpc: RpcClient) {}

  authenticate(token: string): Promise<VerifyAccountTokenReply> {
    return this.rpc.request<VerifyAccountTokenReply>(Subjects.accounts.tokensVerify, { token });
  }
}

/** The parts of an HTTP request that its signature covers. */
export function signedRequestOf(request: AuthenticatedRequest): AuthenticateRequest {
  return {
    api_key: request.header('x-api-key'),
    timestamp: request.header('x-timestamp'),
    nonce: request.header('x-nonce'),
    signature: request.header('x-signature'),
    method: request.method.toUpperCase(),
    path_with_query: request.originalUrl,
    body_base64: (request.rawBody ?? Buffer.alloc(0)).toString('base64'),
  };
}
