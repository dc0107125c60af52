// Node `ws` echo server, a peer in bench/compare. Echoes every message on every path with
// its opcode; perMessageDeflate off, 64 MiB max payload, bufferutil + utf-8-validate loaded
// (ws picks them up itself; we require them so a missing native module fails loudly).
// Usage: node server.js [--port P]; the first stdout line names the port.
'use strict';
const http = require('http');
require('bufferutil');
require('utf-8-validate');
const { WebSocketServer } = require('ws');

let port = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
  else { console.error('usage: server.js [--port P]'); process.exit(2); }
}

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => {
  console.log(`node-ws listening on ws://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
