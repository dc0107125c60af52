// The push page: connects to /push at once and shows each JSON snapshot the server sends.
'use strict';
const $ = (id) => document.getElementById(id);
const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
let ws = null;

function log(text) {
  const lines = $('log').textContent.split('\n').filter(Boolean);
  lines.push(text);
  $('log').textContent = lines.slice(-8).join('\n') + '\n';
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function uptime(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return (h ? `${h}h ` : '') + (h || m ? `${m}m ` : '') + `${sec}s`;
}

function update(p) {
  const st = p.stats;
  $('seq').textContent = p.seq;
  $('time').textContent = p.time;
  $('interval').textContent = `${p.interval_ms / 1000} s` + (p.skipped ? ` (${p.skipped} skipped)` : '');
  $('connections').textContent = `${st.connections} (${st.connections_total})`;
  $('websockets').textContent = st.websockets;
  $('messages').textContent = `${st.messages_in} / ${st.messages_out}`;
  $('bytes').textContent = `${bytes(st.bytes_in)} / ${bytes(st.bytes_out)}`;
  $('uptime').textContent = uptime(st.uptime_s);
}

function connect() {
  ws = new WebSocket(`${wsScheme}//${location.host}/push`);
  $('connect').disabled = true;
  ws.onopen = () => { $('status').textContent = `connected to ${ws.url}`; $('disconnect').disabled = false; };
  ws.onmessage = (ev) => { log(ev.data); update(JSON.parse(ev.data)); };
  ws.onerror = () => log('ERROR: the connection failed');
  ws.onclose = (ev) => {
    $('status').textContent = `closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`;
    $('connect').disabled = false;
    $('disconnect').disabled = true;
  };
}

$('connect').onclick = connect;
$('disconnect').onclick = () => ws.close(1000, 'bye');
connect();
