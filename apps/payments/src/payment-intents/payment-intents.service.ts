import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ApiError,
  ErrorCode,
  IdPrefix,
  type ListResponse,
  newId,
  type PaymentIntentObject,
  type PlaceHoldReply,
  type TransferReply,
} from '@paynet/contracts';
import {
  CONFIG,
  GroupCommit,
  type IdempotencyClaim,
  IdempotencyStore,
  OutboxWriter,
  type Principal,
  RpcClient,
  SqlParameters,
  updateReturning,
  withTransaction,
} from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { RiskDeclinedError } from '../risk/risk-declined.error.js';
import { RiskService } from '../risk/risk.service.js';
import { type AttemptFate, attemptFate, isRefusal, ledgerUnavailable } from '../accounts-calls.js';
import type { PaymentsConfig } from '../config.js';
import {
  canSee,
  effective_status_sql,
  effectiveIntent,
  findIntent,
  intent_columns,
  intentEvent,
  mapPaymentIntent,
  type PaymentIntentRow,
} from './payment-intent.js';
import type { CreatePaymentIntentBody } from './payment-intents.dto.js';
import { attemptCommand, requestKeyDigest } from './attempts.js';
import { PaymentOutcomes, payerFacing } from './payment-outcomes.js';
import { statusGuard, transition } from './transitions.js';

type HolderPrincipal = Extract<Principal, { kind: 'holder' }>;
type MerchantPrincipal = Extract<Principal, { kind: 'merchant' }>;

const now_seconds = () => Math.floor(Date.now() / 1000);

/** Rounds of "check the refused attempt, then start the next": another refused attempt in between costs one more. */
const earlier_attempt_checks_max = 3;

/** The intent's last attempt was refused; accounts is asked about it before a new one starts (startChecked). */
class EarlierAttemptUnchecked extends Error {
  constructor(
    readonly row: PaymentIntentRow,
    /** Started by the same Idempotency-Key as the request now asking: its refusal is that request's answer. */
    readonly own = false,
  ) {
    super(`attempt ${row.attempt} of ${row.id} to be checked`);
  }
}

/**
 * The pay whose answer is known now: its attempt was started by this very
 * Idempotency-Key (an earlier request answered 503, the outcome unknown
 * then) and has been settled since; pay answers `intent` and stores it as
 * the key's answer, as the first request would have.
 */
class SettledAttempt {
  constructor(readonly intent: PaymentIntentObject) {}
}

/** The intent's row with the key that started its current attempt (null: none, or a pay without a key). */
type KeyedIntentRow = PaymentIntentRow & { attempt_key: string | null };

/** A new attempt's UPDATE up to its WHERE. The hold's expiry is fixed here, in whole seconds, so a re-sent hold carries exactly the same expires_at. */
function startAttemptUpdate(p: SqlParameters, payer_account: string, hold_ttl_seconds: number, claim: IdempotencyClaim | undefined): string {
  return `UPDATE payment_intents SET status = 'processing', attempt = attempt + 1, payer_account = ${p.add(payer_account)}, attempt_sent_at = now(),
         attempt_key = ${p.add(requestKeyDigest(claim))}::text,
         hold_expires_at = CASE WHEN capture_method = 'manual' THEN to_timestamp(floor(extract(epoch FROM now())) + ${p.add(hold_ttl_seconds)}) END`;
}

/**
 * The payment flow. Money moves only in accounts; an intent records which
 * command it sent (`attemptCommand(row)`: the transfer `<intent>:pay:<attempt>`,
 * or for manual capture the hold `<intent>:hold:<attempt>`), so an answer lost
 * to a timeout is settled by sending the same command again: accounts applies
 * a transfer or hold id at most once.
 */
@Injectable()
export class PaymentIntentsService {
  private readonly logger = new Logger(PaymentIntentsService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly outbox: OutboxWriter,
    private readonly risk: RiskService,
    private readonly outcomes: PaymentOutcomes,
    private readonly idempotency: IdempotencyStore,
    private readonly groupCommit: GroupCommit,
    @Inject(CONFIG) private readonly config: PaymentsConfig,
  ) {}

  async create(principal: MerchantPrincipal, body: CreatePaymentIntentBody, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const merchant = principal.merchant;
    if (body.currency !== merchant.currency) {
      throw ApiError.badRequest(ErrorCode.parameter_invalid, `currency must be the merchant's currency, ${merchant.currency}.`, 'currency');
    }
    if (claim && !claim.held) {
      const created = await this.createInOneStatement(merchant, body, claim);
      if (created) return created;
      // The key is taken: replayed, 409 or 422 (thrown); or it was freed since, and is ours now.
      await this.idempotency.claimAlone(claim);
    }
    return withTransaction(this.dataSource, async (manager) => {
      const rows: PaymentIntentRow[] = await manager.query(
        `INSERT INTO payment_intents (id, merchant_id, merchant_name, merchant_account_id, fee_bps, amount, currency, reference,
           description, capture_method, status, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requires_payment', now() + make_interval(secs => $11))
         RETURNING ${intent_columns}`,
        [newId(IdPrefix.payment_intent), merchant.merchant_id, merchant.name, merchant.account_id, merchant.fee_bps,
          body.amount.toString(), body.currency, body.reference, body.description ?? null, body.capture_method, body.expires_in],
      );
      const intent = mapPaymentIntent(rows[0] as PaymentIntentRow);
      await this.outbox.add(manager, [intentEvent('payment_intent.created', intent, null)]);
      await claim?.complete(manager, 201, intent);
      return intent;
    });
  }

  /**
   * The whole creation in one statement, its own transaction (or, under
   * load, one shared with other such statements: GroupCommit): the key stored
   * with its answer, the intent, its event. The answer is sealed before the
   * statement runs, so the intent is made here in full, its `created` from
   * this process's clock (as every event's is) rather than the database's.
   * Answers undefined, having changed nothing, when the key is taken.
   */
  private async createInOneStatement(merchant: MerchantPrincipal['merchant'], body: CreatePaymentIntentBody, claim: IdempotencyClaim): Promise<PaymentIntentObject | undefined> {
    const now_ms = Date.now();
    const created = Math.floor(now_ms / 1000);
    const row: PaymentIntentRow = {
      id: newId(IdPrefix.payment_intent),
      merchant_id: merchant.merchant_id,
      merchant_name: merchant.name,
      merchant_account_id: merchant.account_id,
      fee_bps: merchant.fee_bps,
      amount: body.amount.toString(),
      currency: body.currency,
      reference: body.reference,
      description: body.description ?? null,
      capture_method: body.capture_method,
      status: 'requires_payment',
      amount_received: '0',
      amount_refunded: '0',
      payer_account: null,
      last_payment_error: null,
      cancellation_reason: null,
      attempt: 0,
      created: String(created),
      expires_at: String(created + body.expires_in),
      hold_expires_at: null,
      capture_amount: null,
      void_reason: null,
      amount_refund_reserved: '0',
    };
    const intent = mapPaymentIntent(row);
    const event = intentEvent('payment_intent.created', intent, null);
    const p = new SqlParameters();
    const created_at = `to_timestamp(${p.add(now_ms)}::bigint / 1000.0)`;
    // Shares its commit with other one-statement steps under load (GroupCommit); ordered by the key, the one row creations contend for.
    const rows = await this.groupCommit.query<{ created: number }>(
      `WITH answered AS (${this.idempotency.answeredCte(claim, p, { status: 201, body: intent })}),
       created AS (
         INSERT INTO payment_intents (id, merchant_id, merchant_name, merchant_account_id, fee_bps, amount, currency, reference,
           description, capture_method, status, created_at, expires_at)
         SELECT ${p.add(row.id)}::text, ${p.add(row.merchant_id)}::text, ${p.add(row.merchant_name)}::text, ${p.add(row.merchant_account_id)}::text,
           ${p.add(row.fee_bps)}::int, ${p.add(row.amount)}::bigint, ${p.add(row.currency)}::text, ${p.add(row.reference)}::text,
           ${p.add(row.description)}::text, ${p.add(row.capture_method)}::text, 'requires_payment',
           ${created_at}, ${created_at} + make_interval(secs => ${p.add(body.expires_in)}::int)
         FROM answered RETURNING id),
       ${this.outbox.insertCte([event], p, 'EXISTS (SELECT 1 FROM created)')}
       SELECT count(*)::int AS created FROM created`,
      p.values,
      `${claim.scope}\n${claim.key}`,
    );
    if (rows[0]?.created !== 1) return undefined;
    this.idempotency.answered(claim);
    await this.outbox.publishAfterCommit(undefined, [event]);
    return intent;
  }

  async retrieve(principal: Principal, id: string): Promise<PaymentIntentObject> {
    const row = await findIntent(this.dataSource.manager, id, false);
    if (!row || !canSee(principal, row)) throw ApiError.notFound('payment_intent', id);
    return mapPaymentIntent(effectiveIntent(row, now_seconds()));
  }

  async list(principal: MerchantPrincipal, page: { limit: number; starting_after?: string; status?: string }): Promise<ListResponse<PaymentIntentObject>> {
    const merchant_id = principal.merchant.merchant_id;
    const cursor = page.starting_after ? await this.cursorSeq(merchant_id, page.starting_after) : null;
    const rows: PaymentIntentRow[] = await this.dataSource.query(
      `SELECT ${intent_columns} FROM payment_intents
       WHERE merchant_id = $1 AND ($2::bigint IS NULL OR seq < $2) AND ($3::text IS NULL OR ${effective_status_sql} = $3)
       ORDER BY seq DESC LIMIT $4`,
      [merchant_id, cursor, page.status ?? null, page.limit + 1],
    );
    const now = now_seconds();
    return {
      object: 'list',
      data: rows.slice(0, page.limit).map((row) => mapPaymentIntent(effectiveIntent(row, now))),
      has_more: rows.length > page.limit,
    };
  }

  /**
   * Pays an intent from the holder's wallet: (1) mark it processing with a
   * new attempt, (2) ask accounts to apply that attempt's command (a transfer,
   * or a hold for manual capture), (3) record the outcome with its event and
   * the idempotent answer in one transaction.
   */
  async pay(principal: HolderPrincipal, id: string, account_id: string, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    if (account_id !== principal.account_id) {
      // A 404 of a request that began work: stored as its answer, so the key must be ours first.
      if (claim && !claim.held) await this.idempotency.claimAlone(claim);
      throw ApiError.notFound('account', account_id, 'account');
    }
    const started =
      (claim && !claim.held ? await this.startInOneStatement(principal, id, claim) : undefined) ??
      (await this.startChecked(principal, id, claim).catch((error: unknown) => this.riskDeclined(id, principal.account_id, error, claim)));
    if (started instanceof SettledAttempt) {
      if (claim) await this.idempotency.completeAlone(claim, { status: 200, body: started.intent });
      return started.intent;
    }
    const attempt = attemptCommand(started);
    let reply: TransferReply | PlaceHoldReply;
    try {
      reply = await this.rpc.request<TransferReply | PlaceHoldReply>(attempt.subject, attempt.command);
    } catch (error) {
      return this.payFailed(started, error, claim);
    }
    this.logger.log({ payment_intent: id, subject: attempt.subject, result: reply.result }, 'payment attempt applied');
    if (claim?.held) {
      const intent = await this.outcomes.recordAppliedAnswered(started, claim, 200);
      if (intent) return intent;
    }
    return withTransaction(this.dataSource, async (manager) => {
      // Settled already by a concurrent re-drive of the same attempt, or the reconciler: answer what it recorded.
      const intent = (await this.outcomes.recordApplied(manager, started)) ?? mapPaymentIntent((await findIntent(manager, id, false)) as PaymentIntentRow);
      await claim?.complete(manager, 200, intent);
      return intent;
    });
  }

  /**
   * The common start, with the key claimed in the same statement: an intent
   * never paid, payable as it reads now (the transitions table's `pay` over
   * its effective status), in the payer's currency, becomes `processing`
   * with attempt 1, and the key is leased to this request, both or neither.
   * Without I/O in the risk rules (RiskService.amountLimitAlone) that is the
   * whole transaction; otherwise admit() runs in it after the statement, as
   * in startAttempt, and a decline rolls both back, the decline then being
   * recorded under a claim of its own.
   *
   * Answers undefined when it did not start the attempt, the key then held
   * (claimed by the statement, or after it by claimAlone): startChecked
   * tells why (404, 409, 402) or re-drives. Throws what claimAlone throws
   * when another request has the key (replay, 409, 422).
   */
  private async startInOneStatement(principal: HolderPrincipal, id: string, claim: IdempotencyClaim): Promise<PaymentIntentRow | undefined> {
    const limit = this.risk.amountLimitAlone();
    const p = new SqlParameters();
    const amount_max = limit ? p.add(limit.amount_minor_max?.toString() ?? null) : undefined;
    const amount_guard = amount_max ? `AND (${amount_max}::bigint IS NULL OR amount <= ${amount_max}::bigint)` : '';
    const statement = `WITH claim AS (${this.idempotency.claimCte(claim, p)}),
       started AS (
         ${startAttemptUpdate(p, principal.account_id, this.config.HOLD_TTL_SECONDS, claim)}
         WHERE id = ${p.add(id)} AND ${statusGuard('pay', `(${effective_status_sql})`)} AND attempt = 0
           AND rtrim(currency) = ${p.add(principal.currency)} ${amount_guard} AND EXISTS (SELECT 1 FROM claim)
         RETURNING ${intent_columns})
       SELECT started.*, (SELECT count(*)::int FROM claim) AS claimed FROM (VALUES (1)) AS one (x) LEFT JOIN started ON true`;
    type StartRow = PaymentIntentRow & { claimed: number };
    let row: StartRow;
    if (limit) {
      // Its own transaction, or shared with other one-statement steps under load (GroupCommit), ordered by the intent they lock.
      row = (await this.groupCommit.query<StartRow>(statement, p.values, id))[0] as StartRow;
    } else {
      try {
        row = await withTransaction(this.dataSource, async (manager) => {
          const [one] = (await manager.query(statement, p.values)) as StartRow[];
          if ((one as StartRow).id !== null) await this.risk.admit(manager, one as StartRow, principal.account_id);
          return one as StartRow;
        });
      } catch (error) {
        if (!(error instanceof RiskDeclinedError)) throw error;
        // Rolled back, the key with it: claimed on its own, the decline is its stored answer.
        await this.idempotency.claimAlone(claim);
        return this.riskDeclined(id, principal.account_id, error, claim);
      }
    }
    if (row.claimed === 0) {
      await this.idempotency.claimAlone(claim);
      return undefined;
    }
    this.idempotency.claimed(claim);
    if (row.id === null) return undefined;
    if (limit) this.risk.admittedAlone(row, principal.account_id);
    const { claimed: _, ...started } = row;
    return started;
  }

  /**
   * Starts (or re-drives) an attempt. Over a refused attempt, a new one
   * starts only once accounts confirms the refused one is refused or was
   * never seen: if it was applied after all, the intent is restored to what
   * it is (recordApplied) and paying again is refused, so two attempts never
   * both take the money. One extra request, and only after a refusal.
   *
   * An attempt this request's key started (an earlier send answered 503)
   * is never followed by another: once settled, its outcome is the answer
   * (SettledAttempt; a refusal is thrown as accounts gave it, ownRefusal).
   */
  private async startChecked(principal: HolderPrincipal, id: string, claim: IdempotencyClaim | undefined): Promise<PaymentIntentRow | SettledAttempt> {
    let checked_attempt: number | undefined;
    for (let round = 1; ; round++) {
      try {
        return await withTransaction(this.dataSource, (manager) => this.startAttempt(manager, principal, id, checked_attempt, claim));
      } catch (error) {
        if (!(error instanceof EarlierAttemptUnchecked)) throw error;
        if (error.own) return this.ownRefusal(error.row);
        // Another attempt started and was refused while we checked: the payer may simply try again.
        if (round >= earlier_attempt_checks_max) throw ApiError.conflict(ErrorCode.payment_intent_unexpected_state, 'This payment intent is being paid; try again.');
        await this.checkEarlierAttempt(error.row);
        checked_attempt = error.row.attempt;
      }
    }
  }

  /**
   * The refused attempt this key started: its refusal is the answer, as
   * accounts gave it (the pay that sent it would have answered the same);
   * if accounts applied it after all, the intent is restored and answered.
   */
  private async ownRefusal(row: PaymentIntentRow): Promise<SettledAttempt> {
    const fate = await this.attemptFateOrUnavailable(row);
    if (fate.fate === 'applied') {
      const restored = await this.restoreApplied(row, fate);
      return new SettledAttempt(restored ?? mapPaymentIntent(effectiveIntent((await findIntent(this.dataSource.manager, row.id, false)) as PaymentIntentRow, now_seconds())));
    }
    if (fate.fate === 'refused') throw payerFacing(fate.refusal);
    // Accounts no longer remembers it: the refusal recorded on the intent.
    const recorded = row.last_payment_error;
    throw ApiError.payment((recorded?.code ?? ErrorCode.insufficient_funds) as ErrorCode, recorded?.message ?? 'The payment was refused.');
  }

  private async attemptFateOrUnavailable(row: PaymentIntentRow): Promise<AttemptFate> {
    try {
      return await attemptFate(this.rpc, row);
    } catch (error) {
      this.logger.warn({ payment_intent: row.id, attempt: row.attempt, err: error }, 'could not ask accounts about a refused attempt');
      throw ledgerUnavailable();
    }
  }

  private restoreApplied(row: PaymentIntentRow, fate: Extract<AttemptFate, { fate: 'applied' }>): Promise<PaymentIntentObject | undefined> {
    this.logger.error({ payment_intent: row.id, attempt: row.attempt }, 'an attempt recorded as refused was applied; the intent is restored');
    return withTransaction(this.dataSource, (manager) =>
      this.outcomes.recordApplied(manager, { ...row, payer_account: fate.payer_account, hold_expires_at: fate.hold_expires_at }),
    );
  }

  /** Throws unless the refused attempt `row` names is refused or unseen in accounts; restores the intent if it was applied. */
  private async checkEarlierAttempt(row: PaymentIntentRow): Promise<void> {
    const earlier = await this.attemptFateOrUnavailable(row);
    if (earlier.fate !== 'applied') return;
    const restored = await this.restoreApplied(row, earlier);
    const status = restored?.status ?? 'settled';
    throw ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `This payment intent is ${status} and cannot be paid.`);
  }

  /**
   * Locks the intent; a payable one the risk rules admit becomes `processing` with a new attempt, one already processing for this payer
   * is re-driven (it was admitted when it started). Over a refused attempt (requires_payment with attempt > 0) it starts the next
   * only when `checked_attempt` says accounts was asked about that one.
   * An attempt `claim`'s key started and that is settled answers its outcome
   * instead (SettledAttempt, or EarlierAttemptUnchecked marked `own`).
   */
  private async startAttempt(
    manager: EntityManager,
    principal: HolderPrincipal,
    id: string,
    checked_attempt: number | undefined,
    claim: IdempotencyClaim | undefined,
  ): Promise<PaymentIntentRow | SettledAttempt> {
    const [locked]: KeyedIntentRow[] = await manager.query(`SELECT ${intent_columns}, attempt_key FROM payment_intents WHERE id = $1 FOR UPDATE`, [id]);
    if (!locked) throw ApiError.notFound('payment_intent', id);
    const { attempt_key, ...row } = effectiveIntent(locked, now_seconds()) as KeyedIntentRow;
    if (row.status === 'processing' && row.payer_account === principal.account_id) return row;
    if (row.status !== 'processing' && attempt_key !== null && attempt_key === requestKeyDigest(claim)) {
      // Only a refusal clears the payer: any other settled attempt of ours was applied.
      if (row.payer_account === null) throw new EarlierAttemptUnchecked(row, true);
      return new SettledAttempt(mapPaymentIntent(row));
    }
    if (!transition(row.status, 'pay').allowed) {
      throw ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `This payment intent is ${row.status} and cannot be paid.`);
    }
    if (principal.currency !== row.currency.trim()) {
      throw ApiError.payment(ErrorCode.currency_mismatch, `The account is in ${principal.currency}; this payment is in ${row.currency.trim()}.`, 'account');
    }
    if (row.attempt > 0 && row.attempt !== checked_attempt) throw new EarlierAttemptUnchecked(row);
    await this.risk.admit(manager, row, principal.account_id);
    const p = new SqlParameters();
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `${startAttemptUpdate(p, principal.account_id, this.config.HOLD_TTL_SECONDS, claim)} WHERE id = ${p.add(id)} AND ${statusGuard('pay')} RETURNING ${intent_columns}`,
      p.values,
    );
    return rows[0] as PaymentIntentRow;
  }

  /**
   * A transfer or hold accounts refused (any 4xx: insufficient funds, an
   * account gone) was not applied, and never will be under this attempt's id: the
   * intent goes back to requires_payment with the reason, so the holder can
   * try again. An unknown outcome (timeout, 5xx) leaves it processing and
   * answers 503 (not stored): the reconciler settles it, and paying again
   * with the same key re-sends the same command (attemptCommand), which settles it too.
   */
  private async payFailed(started: PaymentIntentRow, error: unknown, claim: IdempotencyClaim | undefined): Promise<never> {
    if (!isRefusal(error)) {
      this.logger.warn({ payment_intent: started.id, attempt: started.attempt, err: error }, 'payment outcome unknown; left processing');
      throw ledgerUnavailable();
    }
    const refusal = payerFacing(error);
    await withTransaction(this.dataSource, async (manager) => {
      await this.outcomes.recordRefused(manager, started, refusal);
      await claim?.complete(manager, refusal.status, refusal.toBody());
    });
    throw refusal;
  }

  /**
   * A risk decline rolled back its attempt (the intent is still
   * requires_payment, nothing was admitted): record the reason with its
   * event and the idempotent answer, then answer 402. Other errors pass.
   */
  private async riskDeclined(id: string, account: string, error: unknown, claim: IdempotencyClaim | undefined): Promise<never> {
    if (!(error instanceof RiskDeclinedError)) throw error;
    await withTransaction(this.dataSource, async (manager) => {
      await this.outcomes.recordDeclined(manager, id, account, error.paymentError());
      await claim?.complete(manager, error.status, error.toBody());
    });
    throw error;
  }

  private async cursorSeq(merchant_id: string, id: string): Promise<string> {
    const rows: { seq: string }[] = await this.dataSource.query('SELECT seq FROM payment_intents WHERE id = $1 AND merchant_id = $2', [id, merchant_id]);
    if (!rows[0]) throw ApiError.badRequest(ErrorCode.parameter_invalid, `No such payment_intent: '${id}'`, 'starting_after');
    return rows[0].seq;
  }
}
