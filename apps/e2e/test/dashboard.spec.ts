import type { PaymentIntentObject } from '@paynet/contracts';
import { createHolder, createMerchant, type Stack, type TestHolder, waitFor, workspaceRoot } from '@paynet/testing';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { useEndToEndWorld } from './world.js';

/**
 * The merchant dashboard (GET /dashboard on push) in real headless Chromium,
 * against the four services as processes: what a merchant sees in its browser.
 * Debian's `chromium` (.ci/run installs it); CHROMIUM_PATH points elsewhere.
 */
const chromium_path = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 20_000;
/** Reconnecting waits up to 10 s between attempts, after push is back (it boots on a busy machine). */
const reconnect_timeout_ms = 90_000;
const screenshot_dir = join(workspaceRoot(), 'tmp', 'test-output');

describe('the merchant dashboard in a browser', () => {
  const world = useEndToEndWorld();
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = world.stack;
    browser = await chromium.launch({ executablePath: chromium_path });
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens the page and records anything the page itself reports as wrong. */
  async function open(path: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // While push is down the browser itself logs each refused reconnection: that is the network, not the page.
      if (message.type() === 'error' && !/WebSocket connection to .* failed/.test(message.text())) problems.push(message.text());
    });
    await page.goto(`${stack.urls.push}${path}`);
    return { page, problems };
  }

  function cellText(page: Page, intent_id: string, cell: string): Promise<string | null> {
    return page.locator(`tr[data-intent="${intent_id}"] td.${cell}`).textContent({ timeout: 1_000 }).catch(() => null);
  }

  async function until(page: Page, intent_id: string, cell: string, text: string, wait_ms = timeout_ms): Promise<void> {
    await waitFor(async () => (await cellText(page, intent_id, cell)) === text, { timeout_ms: wait_ms, interval_ms: 100, description: `${intent_id} ${cell} "${text}"` });
  }

  function rowOrder(page: Page): Promise<string[]> {
    return page.$$eval('#orders tr', (rows) => rows.map((row) => (row as HTMLElement).dataset['intent'] ?? ''));
  }

  function pay(holder: TestHolder, intent: PaymentIntentObject) {
    return holder.fetch('POST', `/v1/payment-intents/${intent.id}/pay`, { account: holder.id }, { 'idempotency-key': `pay-${intent.id}` });
  }

  it('shows new orders live, newest on top, updates their status in place, and resumes by itself after a dropped connection', async () => {
    const shop = await createMerchant(stack);
    const holder = await createHolder(stack, { amount: 100_000 });
    const { token } = await shop.client.createStreamToken(shop.id);
    const { page, problems } = await open(`/dashboard?token=${encodeURIComponent(token)}`);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: timeout_ms });
    // Set once: still there at the end means the page never reloaded.
    await page.evaluate(() => ((window as unknown as { opened_once: boolean }).opened_once = true));

    const first = await shop.client.createPaymentIntent({ amount: 1_234, currency: 'USD', reference: 'order-1' });
    await until(page, first.id, 'status', 'requires_payment');
    expect(await cellText(page, first.id, 'amount')).toBe('12.34 USD');
    expect(await cellText(page, first.id, 'reference')).toBe('order-1');
    const first_row = await page.locator(`tr[data-intent="${first.id}"]`).elementHandle();

    expect((await pay(holder, first)).status).toBe(200);
    await until(page, first.id, 'status', 'succeeded');
    // The same element changed: updated in place, not re-added.
    expect(await first_row?.$eval('td.status', (cell) => cell.textContent)).toBe('succeeded');

    const second = await shop.client.createPaymentIntent({ amount: 500, currency: 'USD', reference: 'order-2' });
    await until(page, second.id, 'status', 'requires_payment');
    expect(await rowOrder(page)).toEqual([second.id, first.id]);
    await shop.client.cancelPaymentIntent(second.id);
    await until(page, second.id, 'status', 'canceled');
    await shop.client.createRefund(first.id);
    await until(page, first.id, 'status', 'refunded');

    // The connection drops (push crashes); an order is created while it is down; push comes back.
    await stack.kill('push');
    await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: timeout_ms });
    const while_down = await shop.client.createPaymentIntent({ amount: 99_900, currency: 'USD', reference: 'order-3' });
    await stack.restart('push');
    await until(page, while_down.id, 'status', 'requires_payment', reconnect_timeout_ms);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: timeout_ms });
    expect(await cellText(page, while_down.id, 'amount')).toBe('999.00 USD');
    expect(await rowOrder(page)).toEqual([while_down.id, second.id, first.id]);
    expect(await page.evaluate(() => (window as unknown as { opened_once?: boolean }).opened_once)).toBe(true);

    mkdirSync(screenshot_dir, { recursive: true });
    await page.screenshot({ path: join(screenshot_dir, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows yen without a fraction, and asks for a token when opened without one', async () => {
    const shop = await createMerchant(stack, { currency: 'JPY' });
    const { token } = await shop.client.createStreamToken(shop.id);
    const { page, problems } = await open(`/dashboard?token=${encodeURIComponent(token)}`);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: timeout_ms });
    const intent = await shop.client.createPaymentIntent({ amount: 500, currency: 'JPY', reference: 'ramen' });
    await until(page, intent.id, 'amount', '500 JPY');

    const { page: bare } = await open('/dashboard');
    expect(await bare.locator('#ask input[name="token"]').isVisible()).toBe(true);
    expect(await bare.locator('#board').isVisible()).toBe(false);
    expect(problems).toEqual([]);
  });
});
