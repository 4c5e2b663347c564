import { redactUrl, serviceNames, type ServiceName } from '@paynet/devstack';
import type { DemoData } from './demo-data.js';

export interface SummaryInput {
  urls: Readonly<Record<ServiceName, string>>;
  adminToken: string;
  demo: DemoData | { error: string };
  /** The demo merchant's dashboard with a fresh stream token, when there is demo data. */
  dashboardUrl?: string;
  databaseUrl: string;
  natsUrl: string;
  natsPrefix: string;
  /** Shown relative to the workspace. */
  paths: { postgres?: string; nats?: string; logs: string; demo: string };
}

/** What a person needs to try the platform; the token and demo credentials are shown on purpose. */
export function formatSummary(input: SummaryInput): string[] {
  const lines = ['', 'paynet is running. Ctrl-C stops everything.', ''];
  for (const name of serviceNames) lines.push(`  ${name.padEnd(10)} ${input.urls[name].padEnd(24)} API docs ${input.urls[name]}/docs`);
  lines.push('');
  if (input.dashboardUrl !== undefined) lines.push(`  dashboard  ${input.dashboardUrl}`, `             (the demo merchant's orders, live; the token in it lasts as stream tokens do)`, '');
  lines.push(`  operator token   ${input.adminToken}`, `                   (Authorization: Bearer <token>; kept in .data/admin-token unless ADMIN_TOKEN is set)`, '');
  lines.push(...formatDemo(input), '');
  lines.push(`  PostgreSQL  ${redactUrl(input.databaseUrl)}${input.paths.postgres ? `  (data in ${input.paths.postgres})` : ''}`);
  lines.push(`  NATS        ${redactUrl(input.natsUrl)}, prefix ${input.natsPrefix}${input.paths.nats ? `  (JetStream data in ${input.paths.nats})` : ''}`);
  lines.push(`  logs        ${input.paths.logs}/<service>.log`, '');
  lines.push('Next: the walk-through in README.md uses these credentials to take a first payment.');
  return lines;
}

function formatDemo(input: SummaryInput): string[] {
  if ('error' in input.demo) {
    return [`  demo data    not created: ${input.demo.error}`, '               (the services are up; `npm start` tries again next time)'];
  }
  const { holder, merchant, reused } = input.demo;
  const note = (kept: boolean) => (kept ? 'reused' : 'new');
  return [
    `  demo holder    (${note(reused.holder)})  account ${holder.id}`,
    `                 token ${holder.token}`,
    `  demo merchant  (${note(reused.merchant)})  id ${merchant.id}`,
    `                 api_key ${merchant.api_key}`,
    `                 api_secret ${merchant.api_secret}`,
    `                 webhook_secret ${merchant.webhook_secret}`,
    `                 (saved in ${input.paths.demo}, mode 0600)`,
  ];
}
