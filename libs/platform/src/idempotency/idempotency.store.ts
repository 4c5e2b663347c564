import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiError, ErrorCode } from '@paynet/contracts';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { type BaseConfig, CONFIG } from '../config/config.js';
import { SECRET_BOX, SecretBox } from '../crypto/secret-box.js';
import { SqlParameters } from '../database/sql-parameters.js';
import { parseAnswer, toJsonText } from '../validation/json-numbers.js';

/**
 * Idempotency-Key handling (API.md, Idempotency), one table per service:
 *
 * - begin() claims the key with a lease (a row `in_progress`, `locked_until`);
 * - the request's own transaction calls claim.complete(), which stores the
 *   answer in that same transaction, and only if the claim is still ours;
 * - a request that crashed leaves a lease that simply runs out: the key is
 *   free again after IDEMPOTENCY_LEASE_SECONDS, never a permanent 409;
 * - while the request runs, a heartbeat pushes the lease forward every third
 *   of it, so a request slower than its lease keeps its key (a retry gets
 *   409 in progress, not a second execution); it stops on complete or
 *   release, and after `idempotency_lease_renewals_max` renewals (a request
 *   stuck that long lets its key go, as a crashed one does).
 *
 * A route may instead claim the key in the request's own statement
 * (`@Idempotent({ ..., in_request: true })`): the handler gets an unheld
 * claim and puts claimCte() (a lease, for work that spans transactions) or
 * answeredCte() (the answer itself, for a request that is one statement) in
 * its first statement, with its change. Whoever runs second waits on the
 * key's row and then finds it taken: claimAlone() answers it as begin()
 * would (replay, 409 in progress, 422), or claims the key if it was freed.
 *
 * Answers are sealed (AES-256-GCM): a replayed creation shows secrets again.
 */
/** Renewals of one claim's lease: 90 at a third of 30 s each hold a key for 15 min at most. */
export const idempotency_lease_renewals_max = 90;
export const idempotency_key_length_max = 255;
/** Claims tried when the key is released between our insert and our read. */
const idempotency_begin_attempts_max = 3;
/* How long keys are kept: IDEMPOTENCY_RETENTION_SECONDS (IdempotencySweeper), at least 24 h. */

export interface StoredAnswer {
  status: number;
  body: unknown;
}

/** Thrown to answer with a stored response; the exception filter writes it with `Idempotent-Replayed: true`. */
export class ReplayedAnswer {
  constructor(readonly answer: StoredAnswer) {}
}

export class IdempotencyClaim {
  completed = false;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly scope: string,
    readonly key: string,
    readonly claim_id: string,
    readonly fingerprint: string,
    private readonly store: IdempotencyStore,
    /** Whether the key is ours (committed, leased); false for a claim the request takes in its own statement, until it has. */
    public held = true,
  ) {}

  /** Stores the answer inside the caller's transaction; throws (rolling it back) if the claim was lost. */
  async complete(manager: EntityManager, status: number, body: unknown): Promise<void> {
    await this.store.complete(manager, this, { status, body });
    this.completed = true;
    this.stopHeartbeat();
  }

  /** Renews the lease every `interval_ms` while the request runs, at most `renewals_max` times. */
  startHeartbeat(interval_ms: number, renew: () => Promise<boolean>): void {
    let renewals = 0;
    const beat = () => {
      renewals += 1;
      void renew().then(
        (still_ours) => {
          if (still_ours && renewals < idempotency_lease_renewals_max && this.heartbeat !== undefined) this.heartbeat = schedule();
          else this.stopHeartbeat();
        },
        () => {
          if (this.heartbeat !== undefined) this.heartbeat = schedule();
        },
      );
    };
    // Chained timeouts rather than an interval: a slow renewal never overlaps the next one.
    const schedule = () => setTimeout(beat, interval_ms).unref();
    this.heartbeat = schedule();
  }

  stopHeartbeat(): void {
    clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }
}

export type BeginResult = { kind: 'claimed'; claim: IdempotencyClaim } | { kind: 'replay'; answer: StoredAnswer };

/** SQL for a service's migration: the table this store uses, in the service's schema. */
export const idempotency_table_sql = `
CREATE TABLE idempotency_keys (
  scope           text        NOT NULL,
  key             text        NOT NULL,
  fingerprint     text        NOT NULL,
  state           text        NOT NULL CHECK (state IN ('in_progress', 'done')),
  claim_id        uuid        NOT NULL,
  locked_until    timestamptz,
  response_status integer,
  response_sealed text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key),
  CHECK ((state = 'done') = (response_status IS NOT NULL AND response_sealed IS NOT NULL))
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
`;

/** A key may be taken over when its request died: leased, lease run out, and the same request (fingerprint). */
const takeover_sql = `idempotency_keys.state = 'in_progress' AND idempotency_keys.locked_until < now()
           AND idempotency_keys.fingerprint = EXCLUDED.fingerprint`;

interface KeyRow {
  fingerprint: string;
  state: 'in_progress' | 'done';
  claim_id: string;
  response_status: number | null;
  response_sealed: string | null;
}

@Injectable()
export class IdempotencyStore {
  private readonly logger = new Logger('Idempotency');
  private readonly lease_seconds: number;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    @Inject(CONFIG) config: Pick<BaseConfig, 'IDEMPOTENCY_LEASE_SECONDS'>,
  ) {
    this.lease_seconds = config.IDEMPOTENCY_LEASE_SECONDS;
  }

  async begin(scope: string, key: string, fingerprint: string): Promise<BeginResult> {
    const claim = new IdempotencyClaim(scope, key, randomUUID(), fingerprint, this, false);
    try {
      await this.claimAlone(claim);
    } catch (error) {
      if (error instanceof ReplayedAnswer) return { kind: 'replay', answer: error.answer };
      throw error;
    }
    return { kind: 'claimed', claim };
  }

  /** A claim the request will take in its own statement (claimCte, answeredCte); not held until it has. */
  deferred(scope: string, key: string, fingerprint: string): IdempotencyClaim {
    return new IdempotencyClaim(scope, key, randomUUID(), fingerprint, this, false);
  }

  /**
   * Claims the key in a statement of its own (a lease), as begin() does: the
   * claim is then held and its lease renewed. Throws ReplayedAnswer for a
   * stored answer, 422 for another request's key, 409 while one is running.
   */
  async claimAlone(claim: IdempotencyClaim, attempt = 1): Promise<void> {
    const parameters = new SqlParameters();
    const claimed: unknown[] = await this.dataSource.query(this.claimCte(claim, parameters), parameters.values);
    if (claimed.length === 1) {
      this.claimed(claim);
      return;
    }
    const rows: KeyRow[] = await this.dataSource.query(
      'SELECT fingerprint, state, claim_id, response_status, response_sealed FROM idempotency_keys WHERE scope = $1 AND key = $2',
      [claim.scope, claim.key],
    );
    const row = rows[0];
    if (!row) {
      // Released (deleted) in between: claim again, a bounded number of times.
      if (attempt < idempotency_begin_attempts_max) return this.claimAlone(claim, attempt + 1);
      throw new ApiError(409, 'idempotency_error', ErrorCode.idempotency_request_in_progress,
        'Requests with this Idempotency-Key keep starting and failing; retry later.');
    }
    if (row.fingerprint !== claim.fingerprint) {
      throw new ApiError(422, 'idempotency_error', ErrorCode.idempotency_key_reused,
        'Keys for idempotent requests can only be used with the same parameters they were first used with.');
    }
    if (row.state === 'in_progress') {
      throw new ApiError(409, 'idempotency_error', ErrorCode.idempotency_request_in_progress,
        'A request with this Idempotency-Key is still being processed; retry later.');
    }
    throw new ReplayedAnswer({ status: row.response_status as number, body: this.openAnswer(claim.scope, claim.key, row) });
  }

  /**
   * The claim as an INSERT for the caller's statement (`RETURNING claim_id`:
   * one row if the key is now ours): a fresh key, or one whose lease ran out
   * (its request died) with the same fingerprint. The caller makes its change
   * depend on that row, and calls claimed() once the statement committed.
   * A key another request holds makes this wait for that request's statement
   * (the row's lock) and then return nothing: claimAlone() tells which answer.
   */
  claimCte(claim: IdempotencyClaim, parameters: SqlParameters): string {
    return `INSERT INTO idempotency_keys (scope, key, fingerprint, state, claim_id, locked_until)
       VALUES (${parameters.add(claim.scope)}, ${parameters.add(claim.key)}, ${parameters.add(claim.fingerprint)}, 'in_progress',
         ${parameters.add(claim.claim_id)}, now() + make_interval(secs => ${parameters.add(this.lease_seconds)}))
       ON CONFLICT (scope, key) DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, claim_id = EXCLUDED.claim_id, locked_until = EXCLUDED.locked_until
         WHERE ${takeover_sql}
       RETURNING claim_id`;
  }

  /**
   * For a request whose whole change is one statement: the key stored at
   * once with its answer (no lease: nothing of the request runs outside
   * that statement), `RETURNING claim_id` as claimCte. The caller's change
   * must depend on that row; answered() once it committed.
   */
  answeredCte(claim: IdempotencyClaim, parameters: SqlParameters, answer: StoredAnswer): string {
    const status = parameters.add(answer.status);
    const sealed = parameters.add(this.seal(claim, answer));
    return `INSERT INTO idempotency_keys (scope, key, fingerprint, state, claim_id, locked_until, response_status, response_sealed)
       VALUES (${parameters.add(claim.scope)}, ${parameters.add(claim.key)}, ${parameters.add(claim.fingerprint)}, 'done',
         ${parameters.add(claim.claim_id)}, NULL, ${status}, ${sealed})
       ON CONFLICT (scope, key) DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, claim_id = EXCLUDED.claim_id, state = 'done', locked_until = NULL,
           response_status = EXCLUDED.response_status, response_sealed = EXCLUDED.response_sealed
         WHERE ${takeover_sql}
       RETURNING claim_id`;
  }

  /**
   * For the statement that completes a held claim with its change: the key's
   * row locked if the claim is still ours (`SELECT ... FOR UPDATE`), for the
   * change to depend on (`EXISTS (SELECT 1 FROM <this cte>)`), so a claim
   * lost to a takeover changes nothing. Pair it with completedCte.
   */
  stillHeldCte(claim: IdempotencyClaim, parameters: SqlParameters): string {
    return `SELECT 1 FROM idempotency_keys
       WHERE scope = ${parameters.add(claim.scope)} AND key = ${parameters.add(claim.key)} AND claim_id = ${parameters.add(claim.claim_id)}
         AND state = 'in_progress' FOR UPDATE`;
  }

  /** Stores the answer of a held claim in the caller's statement when `when` holds (see stillHeldCte); answered() once it committed. */
  completedCte(claim: IdempotencyClaim, parameters: SqlParameters, answer: StoredAnswer, when: string): string {
    return `UPDATE idempotency_keys SET state = 'done', response_status = ${parameters.add(answer.status)},
         response_sealed = ${parameters.add(this.seal(claim, answer))}, locked_until = NULL
       WHERE scope = ${parameters.add(claim.scope)} AND key = ${parameters.add(claim.key)} AND claim_id = ${parameters.add(claim.claim_id)}
         AND state = 'in_progress' AND ${when}
       RETURNING 1`;
  }

  /** claimCte's statement committed with its row: the key is ours, and its lease is renewed while the request runs. */
  claimed(claim: IdempotencyClaim): void {
    claim.held = true;
    claim.startHeartbeat((this.lease_seconds * 1000) / 3, () => this.renew(claim));
  }

  /** answeredCte's or completedCte's statement committed with its row: the answer is stored. */
  answered(claim: IdempotencyClaim): void {
    claim.held = true;
    claim.completed = true;
    claim.stopHeartbeat();
  }

  async complete(manager: EntityManager, claim: IdempotencyClaim, answer: StoredAnswer): Promise<void> {
    const sealed = this.seal(claim, answer);
    const [, affected] = (await manager.query(
      `UPDATE idempotency_keys SET state = 'done', response_status = $4, response_sealed = $5, locked_until = NULL
       WHERE scope = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress'`,
      [claim.scope, claim.key, claim.claim_id, answer.status, sealed],
    )) as [unknown, number];
    if (affected !== 1) {
      // Our lease ran out and another request took the key: let it win, undo ours.
      throw new ApiError(409, 'idempotency_error', ErrorCode.idempotency_request_in_progress,
        'This request took too long and another request with the same Idempotency-Key took over.');
    }
  }

  /** Stores an error answer of a request that began work (402, 404, 409 of state). */
  async completeAlone(claim: IdempotencyClaim, answer: StoredAnswer): Promise<void> {
    await this.dataSource.transaction((manager) => this.complete(manager, claim, answer));
    claim.completed = true;
  }

  /** Frees the key: the request changed nothing and may be sent again. */
  async release(claim: IdempotencyClaim): Promise<void> {
    claim.stopHeartbeat();
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress'`,
      [claim.scope, claim.key, claim.claim_id],
    );
  }

  /** Pushes the lease forward while the claim is still ours; false once it is not (completed, released, taken over). */
  private async renew(claim: IdempotencyClaim): Promise<boolean> {
    const [, affected] = (await this.dataSource.query(
      `UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $4)
       WHERE scope = $1 AND key = $2 AND claim_id = $3 AND state = 'in_progress'`,
      [claim.scope, claim.key, claim.claim_id, this.lease_seconds],
    )) as [unknown, number];
    if (affected !== 1) this.logger.debug(`lease of an Idempotency-Key claim no longer held (${claim.scope})`);
    return affected === 1;
  }

  private seal(claim: IdempotencyClaim, answer: StoredAnswer): string {
    return this.box.seal(toJsonText(answer.body), `${claim.scope}\n${claim.key}`);
  }

  private openAnswer(scope: string, key: string, row: KeyRow): unknown {
    return parseAnswer(this.box.open(row.response_sealed as string, `${scope}\n${key}`));
  }
}
