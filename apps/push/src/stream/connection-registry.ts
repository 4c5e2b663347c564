import type { PlatformEvent } from '@paynet/contracts';

/**
 * Who is at the other end of a stream connection, as its token said:
 * `credential` is what revoking it names (the API key a merchant stream token
 * was issued under, the id of a holder's account token), `expires_at` when
 * the token stops by itself (null for an account token).
 */
export type StreamPrincipal =
  | { kind: 'merchant'; merchant_id: string; expires_at: number; credential: string }
  | { kind: 'holder'; account_id: string; expires_at: number | null; credential: string };

type Routable = Pick<PlatformEvent, 'merchant' | 'account'>;

/** Pure: a merchant sees the events of its own `merchant`, a holder those of its own `account`. */
export function mayReceive(principal: StreamPrincipal, event: Routable): boolean {
  return principal.kind === 'merchant' ? event.merchant === principal.merchant_id : event.account === principal.account_id;
}

function topicOf(principal: StreamPrincipal): string {
  return principal.kind === 'merchant' ? `merchant:${principal.merchant_id}` : `account:${principal.account_id}`;
}

/**
 * This replica's connections indexed by what they may receive, so routing an
 * event costs two map lookups, not a scan of every connection.
 */
export class ConnectionRegistry<C> {
  private readonly by_topic = new Map<string, Set<C>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(principal: StreamPrincipal, connection: C): void {
    const topic = topicOf(principal);
    let set = this.by_topic.get(topic);
    if (!set) {
      set = new Set();
      this.by_topic.set(topic, set);
    }
    if (!set.has(connection)) this.count++;
    set.add(connection);
  }

  /** Removing twice, or what was never added, is harmless. */
  remove(principal: StreamPrincipal, connection: C): void {
    const topic = topicOf(principal);
    const set = this.by_topic.get(topic);
    if (!set?.delete(connection)) return;
    this.count--;
    if (set.size === 0) this.by_topic.delete(topic);
  }

  /** Every connection that may receive this event, each once. */
  recipientsOf(event: Routable): C[] {
    const recipients: C[] = [];
    if (event.merchant !== null) recipients.push(...(this.by_topic.get(`merchant:${event.merchant}`) ?? []));
    if (event.account !== null) recipients.push(...(this.by_topic.get(`account:${event.account}`) ?? []));
    return recipients;
  }
}
