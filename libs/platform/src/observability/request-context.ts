import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** Ids that follow one piece of work across HTTP, NATS and log lines. */
export interface RequestContext {
  request_id: string;
  correlation_id: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function runWithContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

const id_pattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's id if it is well formed, else a new one (never trust header junk into logs). */
export function acceptId(value: unknown): string {
  return typeof value === 'string' && id_pattern.test(value) ? value : randomUUID();
}
