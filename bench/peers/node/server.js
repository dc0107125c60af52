// Node `ws` echo server, a peer in bench/compare. Echoes every message on every path with
// its opcode; perMessageDeflate off, 64 MiB max payload, bufferutil + utf-8-validate loaded
// (ws picks them up itself; we require them so a missing native module fails loudly).
// With --tls-cert/--tls-key: wss:// through Node's https (OpenSSL), its defaults.
// Usage: node server.js [--port P] [--tls-cert FILE --tls-key FILE]; the first stdout line
// names the port.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
require('bufferutil');
require('utf-8-validate');
const { WebSocketServer } = require('ws');

let port = 0;
let cert = null;
let key = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
  else if (args[i] === '--tls-cert' && i + 1 < args.length) cert = args[++i];
  else if (args[i] === '--tls-key' && i + 1 < args.length) key = args[++i];
  else { console.error('usage: server.js [--port P] [--tls-cert FILE --tls-key FILE]'); process.exit(2); }
}
if (!cert !== !key) { console.error('server.js: --tls-cert and --tls-key go together'); process.exit(2); }

const notFound = (req, res) => { res.writeHead(404); res.end(); };
const server = cert
  ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, notFound)
  : http.createServer(notFound);
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => {
  console.log(`node-ws listening on ${cert ? 'wss' : 'ws'}://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
