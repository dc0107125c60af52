// The metrics page: polls /metrics (Prometheus text format 0.0.4, docs/metrics.md) once a
// second and draws connections, message rates and queued bytes on plain canvases.
'use strict';
const $ = (id) => document.getElementById(id);
const KEEP = 120;  // samples: two minutes at one a second
const history = { connections: [], in: [], out: [], queue: [] };
let last = null;  // the previous scrape's counters and time, for rates

// The text format: one sample per line, `name{label="v",...} value`; # lines are comments.
// Returns [{name, labels, value}]. Label values may hold \", \\ and \n escapes.
function parse(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    let l;
    while ((l = re.exec(m[3] || '')) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

// The sum of every sample of `name` whose labels include `where`.
function total(samples, name, where = {}) {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function push(series, v) {
  series.push(v);
  if (series.length > KEEP) series.shift();
}

// One or two series on a canvas, scaled to their largest value, newest on the right.
function draw(id, lines) {
  const c = $(id);
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...lines.flatMap((l) => l.values));
  g.strokeStyle = '#ccc';
  g.strokeRect(0.5, 0.5, c.width - 1, c.height - 1);
  for (const l of lines) {
    g.strokeStyle = l.color;
    g.lineWidth = 2;
    g.beginPath();
    l.values.forEach((v, i) => {
      const x = c.width - (l.values.length - 1 - i) * (c.width / (KEEP - 1)) - 1;
      const y = c.height - 4 - (v / max) * (c.height - 8);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
  c.dataset.points = String(lines[0].values.length);
  c.dataset.max = String(max);
}

function show(samples, now) {
  const connections = total(samples, 'wsedge_connections_open');
  const msgIn = total(samples, 'wsedge_messages_total', { direction: 'in' });
  const msgOut = total(samples, 'wsedge_messages_total', { direction: 'out' });
  const queue = total(samples, 'wsedge_send_queue_bytes') + total(samples, 'wsedge_kernel_unsent_bytes');
  let rateIn = 0, rateOut = 0;
  if (last) {
    const dt = (now - last.time) / 1000;
    rateIn = Math.max(0, (msgIn - last.in) / dt);
    rateOut = Math.max(0, (msgOut - last.out) / dt);
  }
  last = { time: now, in: msgIn, out: msgOut };
  push(history.connections, connections);
  push(history.in, rateIn);
  push(history.out, rateOut);
  push(history.queue, queue);
  draw('chart-connections', [{ values: history.connections, color: '#2a6' }]);
  draw('chart-rate', [{ values: history.in, color: '#26c' }, { values: history.out, color: '#c62' }]);
  draw('chart-queue', [{ values: history.queue, color: '#a2a' }]);
  $('now-connections').textContent = String(connections);
  $('now-rate').textContent = `${rateIn.toFixed(0)} / ${rateOut.toFixed(0)}`;
  $('now-queue').textContent = bytes(queue);
  $('websockets').textContent = String(total(samples, 'wsedge_websockets_open'));
  $('accepted').textContent = String(total(samples, 'wsedge_connections_accepted_total'));
  $('messages').textContent = `${msgIn} / ${msgOut}`;
  $('closes').textContent = `${total(samples, 'wsedge_close_frames_total', { direction: 'sent' })} / ` +
    `${total(samples, 'wsedge_close_frames_total', { direction: 'received' })}`;
  $('errors').textContent = String(total(samples, 'wsedge_protocol_errors_total'));
}

async function tick() {
  try {
    const r = await fetch('/metrics', { cache: 'no-store' });
    if (r.status === 404) {
      $('status').textContent = 'this server does not serve /metrics here: start it with --metrics same-port';
      return;
    }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const samples = parse(await r.text());
    show(samples, Date.now());
    $('status').textContent = `live: ${samples.length} samples, updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $('status').textContent = `cannot read /metrics: ${e.message}`;
  } finally {
    setTimeout(tick, 1000);
  }
}

tick();
