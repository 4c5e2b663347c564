import type { Sent } from './calls.js';

/**
 * What the clients did and were told: the history the checks hold the
 * platform's final state against (Jepsen's bank workload).
 */
export interface PayRecord extends Sent {
  key: string;
  holder: string;
}

export interface RefundRecord extends Sent {
  key: string;
  amount: number;
}

export interface OrderRecord {
  merchant: string;
  reference: string;
  amount: number;
  create: Sent & { key: string };
  /** From the creation's answer; absent when it never got one. */
  intent_id?: string;
  pays: PayRecord[];
  refunds: RefundRecord[];
}

export interface HolderRecord {
  id: string;
  token: string;
  deposit: number;
}

export interface MerchantRecord {
  id: string;
  fee_bps: number;
  webhook_secret: string;
  hot: boolean;
}

export interface History {
  holders: HolderRecord[];
  merchants: MerchantRecord[];
  orders: OrderRecord[];
}

/** The money that entered the platform: every holder's deposit. */
export function totalDeposits(history: History): number {
  return history.holders.reduce((sum, holder) => sum + holder.deposit, 0);
}
