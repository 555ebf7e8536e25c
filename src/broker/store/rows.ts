/**
 * The customers' and sessions' columns, as both adapters' tables name them, and their mapping to
 * the store's types. Only how `fields` is kept differs: JSON text in SQLite, jsonb in PostgreSQL.
 */
import type { Customer, Session } from './types.js';

/** A `customers` row, its `fields` as the adapter keeps them. */
export interface CustomerRow<StoredFields> {
  id: string;
  provider: string;
  subject: string;
  fields: StoredFields;
  created_at: number;
  updated_at: number;
}

export interface SessionRow {
  sid: string;
  customer_id: string;
  client_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** The customer of `row`, with its `fields` read by the adapter. */
export const customerOf = (row: CustomerRow<unknown>, fields: Record<string, unknown>): Customer => ({
  id: row.id,
  provider: row.provider,
  subject: row.subject,
  fields,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toSession = (row: SessionRow): Session => ({
  sid: row.sid,
  customerId: row.customer_id,
  clientId: row.client_id,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});
