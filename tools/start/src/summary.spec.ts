import { formatSummary, type SummaryInput } from './summary.js';

const input: SummaryInput = {
  urls: { accounts: 'http://127.0.0.1:3001', merchants: 'http://127.0.0.1:3002', payments: 'http://127.0.0.1:3003', push: 'http://127.0.0.1:3004' },
  adminToken: 'the-operator-token',
  demo: {
    holder: { id: 'acct_1', token: 'at_1' },
    merchant: { id: 'mer_1', api_key: 'mk_1', api_secret: 'sk_1', webhook_secret: 'whsec_1' },
    reused: { holder: false, merchant: true },
  },
  databaseUrl: 'postgres://app:hunter2@db:5432/paynet',
  natsUrl: 'nats://127.0.0.1:4222',
  natsPrefix: 'paynet',
  paths: { postgres: '.data/postgres', logs: '.data/logs', demo: '.data/demo.json' },
};

describe('the start summary', () => {
  it('shows every URL, its docs, the operator token and the demo credentials', () => {
    const text = formatSummary(input).join('\n');
    for (const port of [3001, 3002, 3003, 3004]) expect(text).toContain(`http://127.0.0.1:${port}/docs`);
    for (const shown of ['the-operator-token', 'acct_1', 'at_1', 'mer_1', 'mk_1', 'sk_1', 'whsec_1', 'README.md']) expect(text).toContain(shown);
  });

  it('shows the dashboard URL with its token when there is one', () => {
    const url = 'http://127.0.0.1:3004/dashboard?token=st_fresh';
    expect(formatSummary({ ...input, dashboardUrl: url }).join('\n')).toContain(`dashboard  ${url}`);
    expect(formatSummary(input).join('\n')).not.toContain('dashboard ');
  });

  it('never shows the database password', () => {
    const text = formatSummary(input).join('\n');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('postgres://app:***@db:5432/paynet');
  });

  it('says why there is no demo data when it could not be made', () => {
    const text = formatSummary({ ...input, demo: { error: 'POST accounts /v1/accounts answered 404' } }).join('\n');
    expect(text).toContain('not created: POST accounts /v1/accounts answered 404');
  });
});
