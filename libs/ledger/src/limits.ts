/**
 * Every bound of the ledger, named. A value outside one is either rejected
 * as a value (bad input) or asserted (a bug), never silently accepted.
 */

/** An entry needs a debit and a credit. */
export const entry_lines_min = 2;
/** Few enough lines that the accounts service can lock all their rows at once. */
export const entry_lines_max = 16;
/** API.md: one amount is 1 ..= 1e12 minor units. */
export const amount_minor_min = 1n;
export const amount_minor_max = 1_000_000_000_000n;
/** Balance columns are PostgreSQL `bigint`; no column may pass its maximum. */
export const balance_column_max = 9_223_372_036_854_775_807n;
/** Ids are opaque strings, bounded so that they can be indexed. */
export const id_length_max = 128;
/** ISO 4217 style: three upper-case letters. Which ones we settle is the caller's business. */
export const currency_pattern = /^[A-Z]{3}$/;
/** Hold expiries are Unix seconds; bounded well inside a safe integer. */
export const expires_at_max = 253_402_300_799; // 9999-12-31T23:59:59Z
/** verifyLedger lists at most this many problems, then counts the rest. */
export const verify_problems_max = 1_000;
