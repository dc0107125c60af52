// Interop: Node's `ws` (8.23.0, from tests/package.json) against wsedge, plus plain HTTP.
//
//   node tests/interop/test_node_ws.mjs [WORD]      (WORD: run tests whose name has it)
//
// The server is $WSEDGE_BIN (default build/wsedge), started with --port 0 and a temporary
// --web directory holding known files, so the static-file checks do not depend on what
// apps/web contains. Last line: "N passed, N failed"; exit 1 if any failed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MiB = 1 << 20;
const tests = [];
const test = (name, fn, timeoutMs = 10000) => tests.push({ name, fn, timeoutMs });
const check = (cond, msg) => { if (!cond) throw new Error(msg); };

// ----- server under test --------------------------------------------------------------
function serverBinary() {
  const bin = process.env.WSEDGE_BIN || 'build/wsedge';
  if (path.isAbsolute(bin) || fs.existsSync(bin)) return path.resolve(bin);
  return path.join(ROOT, bin);
}

function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(serverBinary(), ['--host', '127.0.0.1', '--port', '0', ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no first line within 10s; stderr: ${err}`)); }, 10000);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      if (out === null) return; // already started: keep draining
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const line = out.slice(0, nl).replace(/\r$/, '');
      out = null;
      const m = /^wsedge listening on ws:\/\/([^/]+):(\d+)\/$/.exec(line);
      if (!m) { proc.kill('SIGKILL'); reject(new Error(`bad first line ${JSON.stringify(line)}`)); return; }
      resolve({ proc, host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), stderr: () => err });
    });
  });
}

function stopServer(srv) {
  return new Promise((resolve) => {
    if (srv.proc.exitCode !== null || srv.proc.signalCode !== null) {
      resolve(`server had already exited (${srv.proc.exitCode ?? srv.proc.signalCode})`);
      return;
    }
    const timer = setTimeout(() => { srv.proc.kill('SIGKILL'); resolve('still running 10s after SIGTERM; killed'); }, 10000);
    srv.proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `exited with ${code ?? sig} after SIGTERM, expected 0`);
    });
    srv.proc.kill('SIGTERM');
  });
}

let MAIN;
const url = (p = '/echo') => `ws://${MAIN.host}:${MAIN.port}${p}`;

// ----- helpers ------------------------------------------------------------------------
function open(protocols, options = { perMessageDeflate: false }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url(), protocols, { maxPayload: 0, ...options });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const onMsg = (data, isBinary) => { cleanup(); resolve({ data, isBinary }); };
    const onClose = (code) => { cleanup(); reject(new Error(`closed (${code}) before a message`)); };
    const cleanup = () => { ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}

function closeAndWait(ws, code, reason) {
  return new Promise((resolve) => {
    ws.once('close', (c, r) => resolve({ code: c, reason: r.toString() }));
    ws.close(code, reason);
  });
}

async function echo(ws, data, isBinary) {
  const wait = nextMessage(ws);
  ws.send(data, { binary: isBinary });
  const got = await wait;
  check(got.isBinary === isBinary, `came back as ${got.isBinary ? 'binary' : 'text'}`);
  const want = Buffer.isBuffer(data) ? data : Buffer.from(data);
  check(Buffer.compare(got.data, want) === 0, `echo differs: ${got.data.length} vs ${want.length} bytes`);
}

function httpGet(p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: MAIN.host, port: MAIN.port, path: p, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

function rawHttp(request) {
  return new Promise((resolve, reject) => {
    const s = net.connect(MAIN.port, MAIN.host, () => s.write(request));
    let data = Buffer.alloc(0);
    s.on('data', (d) => { data = Buffer.concat([data, d]); });
    s.on('end', () => resolve(data.toString('latin1')));
    s.on('close', () => resolve(data.toString('latin1')));
    s.on('error', (e) => (data.length ? resolve(data.toString('latin1')) : reject(e)));
    s.setTimeout(5000, () => { s.destroy(); resolve(data.toString('latin1')); });
  });
}

// ----- handshake and subprotocols -------------------------------------------------------
test('handshake: opens with no subprotocol and no extension', async () => {
  const ws = await open();
  check(ws.protocol === '', `protocol ${JSON.stringify(ws.protocol)}`);
  check(ws.extensions === '', `extensions ${JSON.stringify(ws.extensions)}`);
  await closeAndWait(ws, 1000);
});

for (const [offer, want] of [[['superchat', 'chat'], 'chat'], [['superchat'], 'superchat'], [['chat', 'superchat'], 'chat']]) {
  test(`subprotocol: offer ${offer} -> ${want} (server preference order)`, async () => {
    const ws = await open(offer);
    check(ws.protocol === want, `got ${JSON.stringify(ws.protocol)}`);
    await echo(ws, 'after subprotocol', false);
    await closeAndWait(ws, 1000);
  });
}

test('subprotocol: offer [other] -> server selects none (ws: "Server sent no subprotocol")', async () => {
  try {
    const ws = await open(['other']);
    ws.terminate();
    throw new Error(`opened with protocol ${JSON.stringify(ws.protocol)}`);
  } catch (e) {
    check(/no subprotocol/.test(e.message), `unexpected error: ${e.message}`);
  }
});

// ----- echo -------------------------------------------------------------------------------
for (const size of [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB]) {
  test(`echo: text of ${size} bytes`, async () => {
    const ws = await open();
    const text = Buffer.from('wsedge-\u00e9\u20ac'.repeat(Math.ceil(size / 12) + 1)).subarray(0, size);
    // Cut on a character boundary and pad with ASCII so the size is exact and valid UTF-8.
    let s = text.toString('utf8').replace(/\ufffd+$/u, '');
    s += 'x'.repeat(size - Buffer.byteLength(s));
    await echo(ws, s, false);
    await closeAndWait(ws, 1000);
  }, 60000);
  test(`echo: binary of ${size} bytes`, async () => {
    const ws = await open();
    await echo(ws, randomBytes(size), true);
    await closeAndWait(ws, 1000);
  }, 60000);
}

test('echo: text sent as 3 fragments ({fin:false}) -> one message', async () => {
  const ws = await open();
  const wait = nextMessage(ws);
  ws.send('part1-', { fin: false });
  ws.send('part2-\u03ba\u03cc', { fin: false });
  ws.send('part3', { fin: true });
  const got = await wait;
  check(!got.isBinary && got.data.toString() === 'part1-part2-\u03ba\u03ccpart3', `got ${got.data}`);
  await closeAndWait(ws, 1000);
});

test('echo: binary of 64 fragments of 4 KiB -> one message', async () => {
  const ws = await open();
  const data = randomBytes(64 * 4096);
  const wait = nextMessage(ws);
  for (let i = 0; i < 64; i++) ws.send(data.subarray(i * 4096, (i + 1) * 4096), { binary: true, fin: i === 63 });
  const got = await wait;
  check(got.isBinary && Buffer.compare(got.data, data) === 0, 'fragmented binary echo differs');
  await closeAndWait(ws, 1000);
});

test('echo: 500 pipelined messages come back in order', async () => {
  const ws = await open();
  const msgs = Array.from({ length: 500 }, (_, i) => (i % 2 ? `msg-${i}` : randomBytes(i)));
  const got = [];
  const done = new Promise((resolve) => ws.on('message', (d) => { got.push(d); if (got.length === msgs.length) resolve(); }));
  for (const m of msgs) ws.send(m);
  await done;
  msgs.forEach((m, i) => check(Buffer.compare(got[i], Buffer.from(m)) === 0, `message ${i} differs`));
  await closeAndWait(ws, 1000);
});

// ----- ping, close, compression ---------------------------------------------------------------
test('ping: 125-byte ping -> pong with the same payload', async () => {
  const ws = await open();
  for (const payload of [Buffer.alloc(0), Buffer.from('hello'), randomBytes(125)]) {
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping(payload);
    const got = await pong;
    check(Buffer.compare(got, payload) === 0, `pong payload ${got.toString('hex')} != ${payload.toString('hex')}`);
  }
  await closeAndWait(ws, 1000);
});

test('close: code 4000 with a reason -> 4000 echoed', async () => {
  const ws = await open();
  const { code } = await closeAndWait(ws, 4000, 'bye now');
  check(code === 4000, `server answered close ${code}`);
});

test('close: code 1000 -> 1000 echoed', async () => {
  const ws = await open();
  const { code } = await closeAndWait(ws, 1000);
  check(code === 1000, `server answered close ${code}`);
});

test('compression: default ws options (permessage-deflate offered) still connect and echo', async () => {
  const ws = await open(undefined, {});
  await echo(ws, 'compressible '.repeat(2000), false);
  await echo(ws, randomBytes(10000), true);
  await closeAndWait(ws, 1000);
});

// ----- permessage-deflate (RFC 7692) -------------------------------------------------------
const PMD_SIZES = [0, 1, 1024, 65536, MiB, 16 * MiB];
const PMD_CONFIGS = [
  // [name, ws perMessageDeflate option, parameters the answer must carry]
  ['perMessageDeflate: true', true, []],
  ['no context takeover both ways, serverMaxWindowBits 10',
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
    ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits=10']],
  ['clientMaxWindowBits 11, serverMaxWindowBits 12, threshold 0',
    { clientMaxWindowBits: 11, serverMaxWindowBits: 12, threshold: 0 },
    ['server_max_window_bits=12', 'client_max_window_bits=11']],
];

function pmdPayload(isBinary, size) {
  if (isBinary) return Buffer.concat([randomBytes(size >> 1), Buffer.alloc(size - (size >> 1))]);
  const words = ['wsedge', 'deflate', '\u03ba\u03cc\u03c3\u03bc\u03b5', '\u{1f600}', '{"px":101.25}'];
  const unit = `${words.join(' ')} `; // repeated whole, then cut on a character boundary
  let s = unit.repeat(Math.ceil(size / Buffer.byteLength(unit)) + 1);
  s = Buffer.from(s).subarray(0, size).toString('utf8').replace(/\ufffd+$/u, '');
  return s + 'x'.repeat(size - Buffer.byteLength(s));
}

// Like open(), and also returns the server's Sec-WebSocket-Extensions answer (ws.extensions
// holds only the extension names).
function openDeflate(option) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url(), undefined, { maxPayload: 0, perMessageDeflate: option });
    let answer = '';
    ws.once('upgrade', (res) => { answer = res.headers['sec-websocket-extensions'] || ''; });
    ws.once('open', () => resolve({ ws, answer }));
    ws.once('error', reject);
  });
}

for (const [name, option, want] of PMD_CONFIGS) {
  for (const isBinary of [false, true]) {
    test(`deflate (${name}): ${isBinary ? 'binary' : 'text'} of 0 B .. 16 MiB byte-identical`, async () => {
      const { ws, answer: ext } = await openDeflate(option);
      check(ws.extensions === 'permessage-deflate', `ws.extensions ${JSON.stringify(ws.extensions)}`);
      check(/^permessage-deflate(;|$)/.test(ext), `not negotiated: answer ${JSON.stringify(ext)}`);
      const params = ext.split(';').slice(1).map((p) => p.trim());
      for (const p of want) check(params.includes(p), `answer ${JSON.stringify(ext)} lacks ${p}`);
      for (const size of PMD_SIZES) {
        const data = pmdPayload(isBinary, size);
        await echo(ws, data, isBinary);
        if (size <= 65536) await echo(ws, data, isBinary); // again: a back-reference with takeover
      }
      await closeAndWait(ws, 1000);
    }, 90000);
  }
}

test('deflate: 300 pipelined small compressed messages come back in order', async () => {
  const ws = await open(undefined, { perMessageDeflate: { threshold: 0 } });
  check(ws.extensions.startsWith('permessage-deflate'), `extensions ${ws.extensions}`);
  const msgs = Array.from({ length: 300 }, (_, i) => (i % 3 ? `{"seq":${i},"pad":"${'ab'.repeat(i % 50)}"}` : randomBytes(i)));
  const got = [];
  const done = new Promise((resolve) => ws.on('message', (d) => { got.push(d); if (got.length === msgs.length) resolve(); }));
  for (const m of msgs) ws.send(m);
  await done;
  msgs.forEach((m, i) => check(Buffer.compare(got[i], Buffer.from(m)) === 0, `message ${i} differs`));
  await closeAndWait(ws, 1000);
});

// ----- plain HTTP: static files from the temporary --web dir ------------------------------------
const INDEX = '<!doctype html><title>wsedge test</title><p>index from the interop test</p>\n';
const HELLO = 'hello from a static file\n';

test('http: GET / serves index.html from --web with 200 and text/html', async () => {
  const r = await httpGet('/');
  check(r.status === 200, `status ${r.status}`);
  check(r.body.toString() === INDEX, `body ${JSON.stringify(r.body.toString().slice(0, 80))}`);
  check(/^text\/html/.test(r.headers['content-type'] || ''), `content-type ${r.headers['content-type']}`);
});

test('http: GET /hello.txt -> 200 with the file bytes', async () => {
  const r = await httpGet('/hello.txt');
  check(r.status === 200, `status ${r.status}`);
  check(r.body.toString() === HELLO, `body ${JSON.stringify(r.body.toString().slice(0, 80))}`);
});

test('http: GET of a missing file -> 404', async () => {
  const r = await httpGet('/no-such-file.html');
  check(r.status === 404, `status ${r.status}`);
});

test('http: path traversal (/../) never serves a file outside --web', async () => {
  const resp = await rawHttp(`GET /../../../../etc/passwd HTTP/1.1\r\nHost: ${MAIN.host}:${MAIN.port}\r\nConnection: close\r\n\r\n`);
  const status = Number((/^HTTP\/1\.1 (\d{3})/.exec(resp) || [])[1]);
  check(!resp.includes('root:'), 'served /etc/passwd');
  check([400, 403, 404].includes(status), `status ${status || JSON.stringify(resp.slice(0, 40))}`);
});

// ----- runner -----------------------------------------------------------------------------
async function main() {
  const only = process.argv[2] || '';
  const t0 = Date.now();
  let passed = 0;
  let failed = 0;
  const web = fs.mkdtempSync(path.join(os.tmpdir(), 'wsedge-node-web-'));
  fs.writeFileSync(path.join(web, 'index.html'), INDEX);
  fs.writeFileSync(path.join(web, 'hello.txt'), HELLO);
  try {
    MAIN = await startServer(['--web', web, '--log-level', 'warn', '--max-message-size', String(64 * MiB),
      '--subprotocol', 'chat', '--subprotocol', 'superchat']);
  } catch (e) {
    console.log(`FAIL setup: server did not start: ${e.message}`);
    console.log('0 passed, 1 failed');
    fs.rmSync(web, { recursive: true });
    process.exit(1);
  }
  for (const t of tests.filter((x) => x.name.includes(only))) {
    const start = Date.now();
    let timer;
    try {
      await Promise.race([t.fn(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs / 1000}s`)), t.timeoutMs); })]);
      console.log(`ok ${t.name} (${((Date.now() - start) / 1000).toFixed(2)}s)`);
      passed++;
    } catch (e) {
      console.log(`FAIL ${t.name}: ${e && e.message}`);
      failed++;
    } finally {
      clearTimeout(timer);
    }
  }
  const problem = await stopServer(MAIN);
  if (problem) {
    console.log(`FAIL server exits 0 on SIGTERM: ${problem}\n  stderr: ${MAIN.stderr().slice(-800)}`);
    failed++;
  } else {
    console.log('ok server exits 0 on SIGTERM');
    passed++;
  }
  fs.rmSync(web, { recursive: true });
  console.log(`suite time ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
