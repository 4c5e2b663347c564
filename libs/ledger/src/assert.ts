/**
 * A broken invariant is a bug: crash loudly instead of writing a wrong
 * balance. Expected failures (insufficient funds) are values, never this.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`ledger invariant broken: ${message}`);
}
