import { currency_exponents } from '@paynet/contracts';

/**
 * The merchant dashboard (API.md): one page, no framework. It opens the
 * stream with the token of its own URL, keeps one row per payment intent
 * (newest on top, updated in place), and on a dropped connection reconnects
 * with backoff and resumes after the last event it saw. Every value goes in
 * through textContent, never as HTML.
 */
const script = String.raw`
const exponents = ${JSON.stringify(currency_exponents)};
const reconnect_delay_ms = 500;
const reconnect_delay_ms_max = 10000;
const token = new URLSearchParams(location.search).get('token');
const rows = new Map();
let last_event_id = null;
let attempt = 0;

function major(amount, currency) {
  const exponent = exponents[currency] ?? 2;
  const digits = String(amount).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  return (exponent > 0 ? whole + '.' + digits.slice(digits.length - exponent) : whole) + ' ' + currency;
}

function show(state, text) {
  const element = document.getElementById('connection');
  element.dataset.state = state;
  element.textContent = text;
}

function rowOf(intent) {
  let row = rows.get(intent.id);
  if (row) return row;
  row = document.createElement('tr');
  row.dataset.intent = intent.id;
  for (const name of ['id', 'reference', 'amount', 'status']) {
    const cell = document.createElement('td');
    cell.className = name;
    row.appendChild(cell);
  }
  rows.set(intent.id, row);
  document.getElementById('orders').prepend(row);
  return row;
}

function cell(row, name, text) {
  row.querySelector('td.' + name).textContent = text;
}

function onEvent(event) {
  last_event_id = event.id;
  const object = event.data.object;
  if (object.object === 'payment_intent') {
    const row = rowOf(object);
    row.dataset.amountRefunded = String(object.amount_refunded ?? 0);
    row.dataset.amount = String(object.amount);
    cell(row, 'id', object.id);
    cell(row, 'reference', object.reference);
    cell(row, 'amount', major(object.amount, object.currency));
    cell(row, 'status', object.amount_refunded > 0 ? refundedStatus(object.amount_refunded, object.amount) : object.status);
  } else if (event.type === 'refund.succeeded') {
    const row = rows.get(object.payment_intent);
    if (!row) return;
    const refunded = Number(row.dataset.amountRefunded ?? 0) + object.amount;
    row.dataset.amountRefunded = String(refunded);
    cell(row, 'status', refundedStatus(refunded, Number(row.dataset.amount)));
  }
}

function refundedStatus(refunded, amount) {
  return refunded >= amount ? 'refunded' : 'partially refunded';
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(scheme + '//' + location.host + '/v1/stream?token=' + encodeURIComponent(token));
  socket.onopen = () => {
    attempt = 0;
    if (last_event_id !== null) socket.send(JSON.stringify({ type: 'resume', after: last_event_id }));
    show('live', 'live');
  };
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === 'event') onEvent(frame.event);
    else if (frame.type === 'resumed' && !frame.recovered) show('live', 'live (some updates were missed: reload to see every order)');
  };
  socket.onclose = () => {
    const delay_ms = Math.min(reconnect_delay_ms * 2 ** attempt, reconnect_delay_ms_max);
    attempt++;
    show('reconnecting', 'reconnecting…');
    setTimeout(connect, delay_ms);
  };
}

if (token) {
  document.getElementById('ask').hidden = true;
  connect();
} else {
  document.getElementById('board').hidden = true;
  show('none', 'no token');
}
`;

export const dashboard_html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paynet: orders</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  #connection { font-size: .85rem; color: #666; }
  #connection[data-state="live"] { color: #1a7f37; }
  table { border-collapse: collapse; margin-top: 1rem; min-width: 40rem; }
  th, td { text-align: left; padding: .4rem .8rem; border-bottom: 1px solid #e5e5e5; }
  td.amount { text-align: right; font-variant-numeric: tabular-nums; }
  td.id { font-family: ui-monospace, monospace; font-size: .85rem; }
</style>
</head>
<body>
<h1>Orders</h1>
<div id="connection" data-state="connecting">connecting…</div>
<form id="ask" method="get" action="/dashboard">
  <p>Open the dashboard with a stream token (POST /v1/merchants/{id}/stream-tokens).</p>
  <input name="token" placeholder="st_…" size="50" required> <button>Open</button>
</form>
<table id="board">
  <thead><tr><th>Intent</th><th>Reference</th><th>Amount</th><th>Status</th></tr></thead>
  <tbody id="orders"></tbody>
</table>
<script>${script}</script>
</body>
</html>
`;
