import { Injectable } from '@nestjs/common';
import type { HolderAuthenticator } from '@paynet/platform';
import { AccountsService } from './accounts.service.js';

/** accounts keeps the token hashes, so it checks holder tokens itself, without a NATS round trip. */
@Injectable()
export class LocalHolderAuthenticator implements HolderAuthenticator {
  constructor(private readonly accounts: AccountsService) {}

  authenticate(token: string) {
    return this.accounts.verifyToken(token);
  }
}
