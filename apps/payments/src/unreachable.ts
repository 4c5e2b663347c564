/** For exhaustive switches: a new case that is not handled fails to compile, and crashes loudly if it gets here anyway. */
export function assertUnreachable(value: never): never {
  throw new Error(`unhandled case: ${String(value)}`);
}
