import { Injectable } from '@nestjs/common';
import {
  type AccountObject,
  amountToJson,
  balanceToJson,
  ApiError,
  type BalanceObject,
  type CreateLedgerAccountCommand,
  type CreateLedgerAccountReply,
  type Currency,
  ErrorCode,
  IdPrefix,
  type ListResponse,
  newId,
  PlatformAccount,
  randomToken,
  type StatementLineObject,
  type VerifyAccountTokenReply,
  type VerifyHolderStreamTokenReply,
  type JsonInteger,
  Broadcasts,
} from '@paynet/contracts';
import { accountOfKind } from '@paynet/ledger';
import {
  CredentialCache,
  type IdempotencyClaim,
  type Principal,
  holder_stream_token_prefix,
  holder_token_prefix,
  RevocationAnnouncer,
  updateReturning,
  withTransaction,
} from '@paynet/platform';
import { hashToken } from '@paynet/signatures';
import { DataSource, type EntityManager } from 'typeorm';
import { LedgerService } from '../ledger/ledger.service.js';
import { type AccountRow, findAccounts, toLedgerAccount } from '../ledger/ledger.repository.js';

export interface CreateAccountInput {
  currency: Currency;
  owner_name: string;
}

export interface ListInput {
  limit: number;
  starting_after?: string;
}

const token_random_length = 40;

/** A new account token, its hash (all we keep) and its id (what push closes streams by). */
function newAccountToken(): { token: string; token_hash: string; token_id: string } {
  const token = `${holder_token_prefix}${randomToken(token_random_length)}`;
  return { token, token_hash: hashToken(token), token_id: `tok_${randomToken(24)}` };
}

@Injectable()
export class AccountsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly revocations: RevocationAnnouncer,
    private readonly cache: CredentialCache,
  ) {}

  /** A wallet with its bearer token, shown only in this answer; we keep a hash. */
  async createWallet(input: CreateAccountInput, claim: IdempotencyClaim | undefined): Promise<AccountObject<JsonInteger>> {
    const id = newId(IdPrefix.account);
    const { token, token_hash, token_id } = newAccountToken();
    return withTransaction(this.dataSource, async (manager) => {
      const row = await this.insertAccount(manager, { id, kind: 'wallet', currency: input.currency, owner_name: input.owner_name, token_hash, token_id });
      const body: AccountObject<JsonInteger> = { ...mapAccount(row), token, balance: await this.ledger.balanceOf(toLedgerAccount(row), manager) };
      await claim?.complete(manager, 201, body);
      return body;
    });
  }

  /** A merchant's ledger account; the id is chosen by merchants, so a re-send creates nothing new. */
  async createMerchantAccount(command: CreateLedgerAccountCommand): Promise<CreateLedgerAccountReply> {
    return withTransaction(this.dataSource, async (manager) => {
      const existing = (await findAccounts(manager, [command.account_id])).get(command.account_id);
      if (existing) {
        if (existing.kind !== 'merchant' || existing.currency !== command.currency) {
          throw ApiError.conflict(ErrorCode.parameter_invalid, `Account ${command.account_id} exists with other fields.`);
        }
        return { account_id: existing.id, created: false };
      }
      await this.insertAccount(manager, { id: command.account_id, kind: 'merchant', currency: command.currency, owner_name: command.owner_name, token_hash: null, token_id: null });
      return { account_id: command.account_id, created: true };
    });
  }

  /** Through the credential cache, by the token's hash (a rotation drops it from every replica before it answers); an unknown token is read every time. */
  async verifyToken(token: string): Promise<VerifyAccountTokenReply> {
    const token_hash = hashToken(token);
    const verified = await this.cache.lookup<VerifyAccountTokenReply>(token_hash, async () => {
      const rows: { id: string; currency: string; token_id: string }[] = await this.dataSource.query(
        `SELECT id, currency, token_id FROM ledger_accounts WHERE token_hash = $1 AND kind = 'wallet'`,
        [token_hash],
      );
      const row = rows[0];
      return row && { value: { account_id: row.id, currency: row.currency.trim() as Currency, credential: row.token_id } };
    });
    if (!verified) throw ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid account token.');
    return verified;
  }

  /**
   * A new account token; the old one, and the holder stream tokens issued
   * under it, stop in the same commit (verification reads the row). Before
   * this answers, every accounts replica has dropped the old token from its
   * credential cache (or can no longer use its cache) and push is told to
   * close the streams. Refused (503, nothing changed) when this replica could
   * not tell the others' caches.
   */
  async rotateToken(principal: Principal, id: string): Promise<{ token: string }> {
    const account = await this.visibleAccount(principal, id);
    if (account.kind !== 'wallet') throw ApiError.notFound('account', id);
    const { token, token_hash, token_id } = newAccountToken();
    this.cache.assertCanInvalidate();
    const revoked = await withTransaction(this.dataSource, async (manager) => {
      const rows = await updateReturning<{ old_token_id: string; old_token_hash: string }>(
        manager,
        `WITH old AS (SELECT id, token_id, token_hash FROM ledger_accounts WHERE id = $1 AND kind = 'wallet' FOR UPDATE)
         UPDATE ledger_accounts a SET token_hash = $2, token_id = $3 FROM old WHERE a.id = old.id
         RETURNING old.token_id AS old_token_id, old.token_hash AS old_token_hash`,
        [id, token_hash, token_id],
      );
      const old = rows[0];
      if (old === undefined) throw ApiError.notFound('account', id);
      await manager.query('DELETE FROM holder_stream_tokens WHERE account_id = $1 AND token_id <> $2', [id, token_id]);
      return old;
    });
    await Promise.all([
      this.cache.invalidate([revoked.old_token_hash], Date.now()),
      this.revocations.announce(Broadcasts.accountCredentialsRevoked, { credentials: [revoked.old_token_id] }),
    ]);
    return { token };
  }

  /** A short-lived token for push's stream, under the account token that asked for it. */
  async issueStreamToken(principal: Principal, id: string, ttl_seconds: number): Promise<{ object: 'stream_token'; token: string; expires_at: number }> {
    const account = await this.visibleAccount(principal, id);
    if (principal.kind !== 'holder' || account.kind !== 'wallet') throw ApiError.notFound('account', id);
    const token = `${holder_stream_token_prefix}${randomToken(token_random_length)}`;
    const rows: { expires_at: string }[] = await this.dataSource.query(
      `INSERT INTO holder_stream_tokens (token_hash, account_id, token_id, expires_at) VALUES ($1, $2, $3, date_trunc('second', now()) + make_interval(secs => $4))
       RETURNING floor(extract(epoch FROM expires_at))::bigint AS expires_at`,
      [hashToken(token), id, principal.credential, ttl_seconds],
    );
    return { object: 'stream_token', token, expires_at: Number(rows[0]?.expires_at) };
  }

  /** A holder stream token that has not expired and whose account token is still the account's current one. */
  async verifyStreamToken(token: string): Promise<VerifyHolderStreamTokenReply> {
    const rows: { id: string; currency: string; token_id: string; expires_at: string }[] = await this.dataSource.query(
      `SELECT a.id, a.currency, a.token_id, floor(extract(epoch FROM s.expires_at))::bigint AS expires_at
       FROM holder_stream_tokens s JOIN ledger_accounts a ON a.id = s.account_id AND a.token_id = s.token_id
       WHERE s.token_hash = $1 AND s.expires_at > now()`,
      [hashToken(token)],
    );
    const row = rows[0];
    if (!row) throw ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid or expired stream token, or its account token was rotated.');
    return { account_id: row.id, currency: row.currency.trim() as Currency, credential: row.token_id, expires_at: Number(row.expires_at) };
  }

  /** Holder stream tokens that expired a day ago; answers how many went. */
  async deleteExpiredStreamTokens(limit: number): Promise<number> {
    const [, count] = (await this.dataSource.query(
      `DELETE FROM holder_stream_tokens WHERE token_hash IN (
         SELECT token_hash FROM holder_stream_tokens WHERE expires_at < now() - interval '1 day' LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [limit],
    )) as [unknown, number];
    return count;
  }

  async retrieve(principal: Principal, id: string): Promise<AccountObject<JsonInteger>> {
    const row = await this.visibleAccount(principal, id);
    return { ...mapAccount(row), balance: await this.ledger.balanceOf(toLedgerAccount(row)) };
  }

  async balance(principal: Principal, id: string): Promise<BalanceObject<JsonInteger>> {
    return this.ledger.balanceOf(toLedgerAccount(await this.visibleAccount(principal, id)));
  }

  /** Any account's balance, for other services (merchants asks for its merchants'). */
  async balanceById(id: string): Promise<BalanceObject<JsonInteger>> {
    const row = (await findAccounts(this.dataSource.manager, [id])).get(id);
    if (!row) throw ApiError.notFound('account', id);
    return this.ledger.balanceOf(toLedgerAccount(row));
  }

  async deposit(principal: Principal, id: string, amount_minor: bigint, claim: IdempotencyClaim | undefined): Promise<StatementLineObject<JsonInteger>> {
    const row = await this.visibleAccount(principal, id);
    if (row.kind !== 'wallet') throw ApiError.notFound('account', id);
    return withTransaction(this.dataSource, async (manager) => {
      const reply = await this.ledger.postTransfer(
        {
          transfer_id: `deposit:${newId(IdPrefix.transaction)}`,
          currency: row.currency,
          description: 'Deposit',
          lines: [
            { account: PlatformAccount.funding, direction: 'debit', amount_minor: amount_minor.toString() },
            { account: row.id, direction: 'credit', amount_minor: amount_minor.toString() },
          ],
        },
        manager,
      );
      const line = await this.statementLine(manager, reply.line_ids[1] as string);
      await claim?.complete(manager, 201, line);
      return line;
    });
  }

  async transactions(principal: Principal, id: string, page: ListInput): Promise<ListResponse<StatementLineObject<JsonInteger>>> {
    const row = await this.visibleAccount(principal, id);
    const cursor = page.starting_after ? await this.cursorSeq(row.id, page.starting_after) : null;
    const rows: StatementRow[] = await this.dataSource.query(
      `${statement_select} WHERE p.account_id = $1 AND ($2::bigint IS NULL OR p.seq < $2) ORDER BY p.seq DESC LIMIT $3`,
      [row.id, cursor, page.limit + 1],
    );
    return { object: 'list', data: rows.slice(0, page.limit).map(mapStatementLine), has_more: rows.length > page.limit };
  }

  private async cursorSeq(account_id: string, line_id: string): Promise<string> {
    const rows: { seq: string }[] = await this.dataSource.query('SELECT seq FROM postings WHERE id = $1 AND account_id = $2', [line_id, account_id]);
    if (!rows[0]) throw ApiError.badRequest(ErrorCode.parameter_invalid, `No such transaction: '${line_id}'`, 'starting_after');
    return rows[0].seq;
  }

  private async statementLine(manager: EntityManager, line_id: string): Promise<StatementLineObject<JsonInteger>> {
    const rows: StatementRow[] = await manager.query(`${statement_select} WHERE p.id = $1`, [line_id]);
    return mapStatementLine(rows[0] as StatementRow);
  }

  /** The account if this principal may see it; anyone else's is "not found", never "forbidden". */
  private async visibleAccount(principal: Principal, id: string): Promise<AccountRow> {
    const visible = principal.kind === 'operator' || (principal.kind === 'holder' && principal.account_id === id);
    const row = visible ? (await findAccounts(this.dataSource.manager, [id])).get(id) : undefined;
    if (!row) throw ApiError.notFound('account', id);
    return row;
  }

  private async insertAccount(
    manager: EntityManager,
    input: { id: string; kind: 'wallet' | 'merchant'; currency: Currency; owner_name: string; token_hash: string | null; token_id: string | null },
  ): Promise<AccountRow> {
    const account = accountOfKind(input.kind, input.id, input.currency);
    const rows: AccountRow[] = await manager.query(
      `INSERT INTO ledger_accounts (id, kind, currency, owner_name, normal_side, debits_must_not_exceed_credits, credits_must_not_exceed_debits, token_hash, token_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       RETURNING id, kind, currency, owner_name, normal_side, debits_must_not_exceed_credits, credits_must_not_exceed_debits, created_at`,
      [account.id, input.kind, account.currency, input.owner_name, account.normal_side, account.flags.debits_must_not_exceed_credits, account.flags.credits_must_not_exceed_debits, input.token_hash, input.token_id],
    );
    await manager.query('INSERT INTO balances (account_id, debits_limited) VALUES ($1, $2)', [account.id, account.flags.debits_must_not_exceed_credits]);
    return { ...(rows[0] as AccountRow), currency: input.currency };
  }
}

const statement_select = `
  SELECT p.id, p.direction, p.amount, p.balance_after, p.currency, e.description, e.payment_intent,
         floor(extract(epoch FROM p.created_at))::bigint AS created
  FROM postings p JOIN journal_entries e ON e.id = p.entry_id`;

interface StatementRow {
  id: string;
  direction: 'debit' | 'credit';
  amount: string;
  balance_after: string;
  currency: string;
  description: string;
  payment_intent: string | null;
  created: string;
}

/** Statement lines are seen from the holder's side: money in is positive. */
function mapStatementLine(row: StatementRow): StatementLineObject<JsonInteger> {
  const amount = BigInt(row.amount);
  const line: StatementLineObject<JsonInteger> = {
    id: row.id,
    object: 'transaction',
    amount: amountToJson(row.direction === 'credit' ? amount : -amount),
    balance_after: balanceToJson(BigInt(row.balance_after)),
    currency: row.currency.trim() as Currency,
    description: row.description,
    created: Number(row.created),
  };
  if (row.payment_intent) line.payment_intent = row.payment_intent;
  return line;
}

export function mapAccount(row: AccountRow): AccountObject<JsonInteger> {
  return {
    id: row.id,
    object: 'account',
    currency: row.currency,
    owner_name: row.owner_name,
    created: Math.floor(new Date(row.created_at).getTime() / 1000),
  };
}
