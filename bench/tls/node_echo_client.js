// bench/tls/node_echo_client.js — a second load generator for the TLS figures: Node's `ws`
// client (from bench/peers/node/node_modules) keeps one 16 B text message in flight on
// each of N connections for S seconds and prints {"messages": M, "seconds": S, ...} once.
// Used by bench/tls/crosscheck.py to check wsload's wss/ws figures with another client.
// Usage: node node_echo_client.js URL N SECONDS [CA_FILE]
'use strict';
const fs = require('fs');
const path = require('path');
const WebSocket = require(path.join(__dirname, '../peers/node/node_modules/ws'));

const [url, n, seconds, ca] = [process.argv[2], Number(process.argv[3]),
  Number(process.argv[4]), process.argv[5]];
const payload = 'x'.repeat(16);
const opts = { perMessageDeflate: false };
if (ca) opts.ca = fs.readFileSync(ca);
let open = 0;
let messages = 0;
let counting = false;
let errors = 0;
const sockets = [];
for (let i = 0; i < n; i++) {
  const ws = new WebSocket(url, opts);
  ws.on('open', () => {
    if (++open === n) start();
  });
  ws.on('message', (data) => {
    if (data.toString() !== payload) errors++;
    if (counting) messages++;
    ws.send(payload);
  });
  ws.on('error', (e) => { errors++; console.error(String(e)); });
  sockets.push(ws);
}

function start() {
  for (const ws of sockets) ws.send(payload);
  setTimeout(() => {  // one second of warm-up, then the window
    counting = true;
    const t0 = process.hrtime.bigint();
    console.error('window');
    setTimeout(() => {
      counting = false;
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ messages, seconds: secs, msgs_per_s: messages / secs, errors }));
      for (const ws of sockets) ws.terminate();
      process.exit(errors ? 1 : 0);
    }, seconds * 1000);
  }, 1000);
}
setTimeout(() => { console.error('timed out'); process.exit(2); }, (seconds + 30) * 1000);
