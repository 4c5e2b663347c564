import { Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, Subjects, type VerifyAccountTokenReply, type VerifyHolderStreamTokenReply, type VerifyStreamTokenReply } from '@paynet/contracts';
import { holder_stream_token_prefix, holder_token_prefix, RpcClient, stream_token_prefix } from '@paynet/platform';
import type { StreamPrincipal } from './connection-registry.js';

export const stream_token_length_max = 200;

/** A merchant stream token is checked by merchants, a holder's stream or account token by accounts: push keeps none of them. */
@Injectable()
export class StreamAuthenticator {
  constructor(private readonly rpc: RpcClient) {}

  /** The principal, or a 401 ApiError (503 if the checking service did not answer). */
  async authenticate(token: string | null): Promise<StreamPrincipal> {
    if (token === null || token === '') {
      throw ApiError.unauthorized(ErrorCode.authentication_required, 'A token is required: /v1/stream?token=<stream token or account token>.');
    }
    if (token.length > stream_token_length_max) throw invalidToken();
    if (token.startsWith(stream_token_prefix)) {
      const reply = await this.rpc.request<VerifyStreamTokenReply>(Subjects.merchants.streamTokensVerify, { token });
      return { kind: 'merchant', merchant_id: reply.merchant_id, expires_at: reply.expires_at, credential: reply.credential };
    }
    if (token.startsWith(holder_stream_token_prefix)) {
      const reply = await this.rpc.request<VerifyHolderStreamTokenReply>(Subjects.accounts.streamTokensVerify, { token });
      return { kind: 'holder', account_id: reply.account_id, expires_at: reply.expires_at, credential: reply.credential };
    }
    if (token.startsWith(holder_token_prefix)) {
      const reply = await this.rpc.request<VerifyAccountTokenReply>(Subjects.accounts.tokensVerify, { token });
      return { kind: 'holder', account_id: reply.account_id, expires_at: null, credential: reply.credential };
    }
    throw invalidToken();
  }
}

function invalidToken(): ApiError {
  return ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid stream token.');
}
