/**
 * The positional parameters of one statement built from parts (a CTE from
 * the idempotency store, one from the outbox, the caller's own): each part
 * adds its values and writes the `$n` it gets, so parts never count for each other.
 */
export class SqlParameters {
  readonly values: unknown[] = [];

  /** Adds a value; answers its placeholder, `$n`. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
