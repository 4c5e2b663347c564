import type { EntityManager } from 'typeorm';

/** SQL for webhook endpoints and their secrets; the rules live in the service. */

export interface EndpointRow {
  seq: string;
  id: string;
  merchant_id: string;
  url: string;
  enabled_events: string[];
  description: string | null;
  status: 'enabled' | 'disabled';
  enabled_since_ms: string;
  created: string;
}

export interface SecretRow {
  id: string;
  secret_sealed: string;
  /** When it stops signing (Unix ms); null while it has no end. */
  expires_at_ms: number | null;
}

/** Signatures sent at once: the current secret and the newest ones still in grace. */
export const endpoint_valid_secrets_max = 5;

const endpoint_columns = `seq, id, merchant_id, url, enabled_events, description, status,
  floor(extract(epoch FROM enabled_since) * 1000)::bigint AS enabled_since_ms,
  floor(extract(epoch FROM created_at))::bigint AS created`;

export async function insertEndpoint(
  manager: EntityManager,
  input: { id: string; merchant_id: string; url: string; enabled_events: readonly string[]; description: string | null },
): Promise<EndpointRow> {
  const rows: EndpointRow[] = await manager.query(
    `INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, description, status)
     VALUES ($1, $2, $3, $4, $5, 'enabled') RETURNING ${endpoint_columns}`,
    [input.id, input.merchant_id, input.url, input.enabled_events, input.description],
  );
  return rows[0] as EndpointRow;
}

export async function insertSecret(manager: EntityManager, input: { id: string; endpoint_id: string; secret_sealed: string }): Promise<void> {
  await manager.query('INSERT INTO webhook_endpoint_secrets (id, endpoint_id, secret_sealed) VALUES ($1, $2, $3)', [
    input.id,
    input.endpoint_id,
    input.secret_sealed,
  ]);
}

/** Serialises endpoint creation per merchant (the count bound) and answers how many it has. */
export async function lockAndCountEndpoints(manager: EntityManager, merchant_id: string): Promise<number> {
  await manager.query('SELECT 1 FROM merchants WHERE id = $1 FOR UPDATE', [merchant_id]);
  const rows: { count: string }[] = await manager.query('SELECT count(*) AS count FROM webhook_endpoints WHERE merchant_id = $1', [merchant_id]);
  return Number(rows[0]?.count ?? 0);
}

export async function findEndpoint(manager: EntityManager, merchant_id: string, id: string): Promise<EndpointRow | undefined> {
  const rows: EndpointRow[] = await manager.query(`SELECT ${endpoint_columns} FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2`, [id, merchant_id]);
  return rows[0];
}

/** The merchant's first endpoint: its oldest one still there. */
export async function firstEndpoint(manager: EntityManager, merchant_id: string): Promise<EndpointRow | undefined> {
  const rows: EndpointRow[] = await manager.query(
    `SELECT ${endpoint_columns} FROM webhook_endpoints WHERE merchant_id = $1 ORDER BY seq LIMIT 1`,
    [merchant_id],
  );
  return rows[0];
}

export async function listEndpoints(manager: EntityManager, filter: { merchant_id: string; before_seq?: string; limit: number }): Promise<EndpointRow[]> {
  return manager.query(
    `SELECT ${endpoint_columns} FROM webhook_endpoints
     WHERE merchant_id = $1 AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3`,
    [filter.merchant_id, filter.before_seq ?? null, filter.limit],
  );
}

/**
 * Every enabled endpoint of these merchants, oldest first; a merchant that
 * exists but has none gives one row with null endpoint columns, an unknown one none.
 */
export async function enabledEndpointsOf(
  manager: EntityManager,
  merchant_ids: readonly string[],
): Promise<{ merchant_id: string; id: string | null; url: string | null; enabled_events: string[] | null }[]> {
  return manager.query(
    `SELECT m.id AS merchant_id, e.id, e.url, e.enabled_events
     FROM merchants m LEFT JOIN webhook_endpoints e ON e.merchant_id = m.id AND e.status = 'enabled'
     WHERE m.id = ANY($1::text[]) ORDER BY m.id, e.seq`,
    [merchant_ids],
  );
}

export async function enabledAmong(manager: EntityManager, merchant_id: string, ids: readonly string[]): Promise<EndpointRow[]> {
  return manager.query(`SELECT ${endpoint_columns} FROM webhook_endpoints WHERE merchant_id = $1 AND status = 'enabled' AND id = ANY($2::text[])`, [
    merchant_id,
    ids,
  ]);
}

/**
 * Changes what was given; a status change records why (null: enabled again,
 * from now on) and answers the row, or undefined when the endpoint is gone.
 * `only_if_enabled` makes a disable by push a no-op on an endpoint already off.
 */
export async function updateEndpoint(
  manager: EntityManager,
  merchant_id: string,
  id: string,
  change: { url?: string; enabled_events?: readonly string[]; description?: string | null; status?: 'enabled' | 'disabled'; disabled_reason?: string | null },
  only_if_enabled = false,
): Promise<EndpointRow | undefined> {
  // TypeORM answers an UPDATE as [rows, affected].
  const [rows] = (await manager.query(
    `UPDATE webhook_endpoints SET
       url = coalesce($3, url),
       enabled_events = coalesce($4, enabled_events),
       description = CASE WHEN $5 THEN $6 ELSE description END,
       enabled_since = CASE WHEN $7::text = 'enabled' AND status = 'disabled' THEN now() ELSE enabled_since END,
       status = coalesce($7, status),
       disabled_reason = CASE WHEN $7::text IS NULL THEN disabled_reason WHEN $7::text = 'enabled' THEN NULL ELSE $8 END
     WHERE id = $1 AND merchant_id = $2 AND (NOT $9 OR status = 'enabled')
     RETURNING ${endpoint_columns}`,
    [
      id,
      merchant_id,
      change.url ?? null,
      change.enabled_events ?? null,
      change.description !== undefined,
      change.description ?? null,
      change.status ?? null,
      change.disabled_reason ?? null,
      only_if_enabled,
    ],
  )) as [EndpointRow[], number];
  return rows[0];
}

export async function deleteEndpoint(manager: EntityManager, merchant_id: string, id: string): Promise<boolean> {
  const [, affected] = (await manager.query('DELETE FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2', [id, merchant_id])) as [unknown, number];
  return affected === 1;
}

/**
 * Starts a rotation: every secret of the endpoint still valid after the
 * grace now ends with it (grace 0 ends them all at once), and beyond the
 * newest few the rest end now, so the signature header stays bounded.
 */
export async function endSecretsAfter(manager: EntityManager, endpoint_id: string, grace_seconds: number): Promise<void> {
  await manager.query(
    `UPDATE webhook_endpoint_secrets SET expires_at = now() + make_interval(secs => $2)
     WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now() + make_interval(secs => $2))`,
    [endpoint_id, grace_seconds],
  );
  await manager.query(
    `UPDATE webhook_endpoint_secrets SET expires_at = now()
     WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())
       AND id NOT IN (SELECT id FROM webhook_endpoint_secrets WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())
                      ORDER BY created_at DESC LIMIT $2)`,
    [endpoint_id, endpoint_valid_secrets_max - 1],
  );
}

/** What signing one webhook needs: whether its merchant exists, its endpoint (the first one when none is named) and that endpoint's valid secrets. */
export interface SigningKey {
  merchant_exists: boolean;
  endpoint_id: string | null;
  url: string | null;
  status: 'enabled' | 'disabled' | null;
  enabled_since_ms: string | null;
  /** The secrets a webhook is signed with now, newest first. */
  secrets: SecretRow[];
}

/** One SigningKey per webhook, in the order asked, read by one statement. */
export async function signingKeys(manager: EntityManager, webhooks: readonly { merchant_id: string; endpoint_id?: string }[]): Promise<SigningKey[]> {
  const rows: (SigningKey & { ord: string })[] = await manager.query(
    `SELECT w.ord, m.id IS NOT NULL AS merchant_exists, e.id AS endpoint_id, e.url, e.status,
            floor(extract(epoch FROM e.enabled_since) * 1000)::bigint AS enabled_since_ms,
            coalesce(s.secrets, '[]'::json) AS secrets
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w (merchant_id, endpoint_id, ord)
     LEFT JOIN merchants m ON m.id = w.merchant_id
     LEFT JOIN LATERAL (
       SELECT id, url, status, enabled_since FROM webhook_endpoints
       WHERE merchant_id = w.merchant_id AND (w.endpoint_id IS NULL OR id = w.endpoint_id) ORDER BY seq LIMIT 1
     ) e ON true
     LEFT JOIN LATERAL (
       SELECT json_agg(json_build_object('id', v.id, 'secret_sealed', v.secret_sealed,
                                         'expires_at_ms', floor(extract(epoch FROM v.expires_at) * 1000)::bigint) ORDER BY v.created_at DESC) AS secrets
       FROM (SELECT id, secret_sealed, created_at, expires_at FROM webhook_endpoint_secrets
             WHERE endpoint_id = e.id AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT $3) v
     ) s ON true
     ORDER BY w.ord`,
    [webhooks.map((webhook) => webhook.merchant_id), webhooks.map((webhook) => webhook.endpoint_id ?? null), endpoint_valid_secrets_max],
  );
  return rows;
}

/** The merchant's own webhook secret, sealed with its id: what a first endpoint made by the older route signs with. */
export async function merchantWebhookSecretSealed(manager: EntityManager, merchant_id: string): Promise<string | undefined> {
  const rows: { webhook_secret_sealed: string }[] = await manager.query('SELECT webhook_secret_sealed FROM merchants WHERE id = $1', [merchant_id]);
  return rows[0]?.webhook_secret_sealed;
}

export async function endpointSeq(manager: EntityManager, merchant_id: string, id: string): Promise<string | undefined> {
  return (await findEndpoint(manager, merchant_id, id))?.seq;
}
