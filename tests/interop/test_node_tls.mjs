// Interop over TLS: Node's `ws` (tests/package.json) and `https` against wsedge on wss://.
//
//   node tests/interop/test_node_tls.mjs [WORD]      (WORD: run tests whose name has it)
//
// A throwaway CA and server certificate come from tests/support/tls.py (the `openssl`
// command, under $WSEDGE_TEST_OUT); the clients trust that CA only and check the name.
// Last line: "N passed, N failed"; exit 1 if any failed.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MiB = 1 << 20;
const tests = [];
const test = (name, fn, timeoutMs = 30000) => tests.push({ name, fn, timeoutMs });
const check = (cond, msg) => { if (!cond) throw new Error(msg); };

function serverBinary() {
  const bin = process.env.WSEDGE_BIN || 'build/wsedge';
  if (path.isAbsolute(bin) || fs.existsSync(bin)) return path.resolve(bin);
  return path.join(ROOT, bin);
}

function makePki() {
  const base = process.env.WSEDGE_TEST_OUT || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'tls-node-'));
  const out = execFileSync('/usr/bin/python3', [path.join(ROOT, 'tests/support/tls.py'), dir],
    { encoding: 'utf8' });
  return JSON.parse(out);
}

function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(serverBinary(), ['--host', '127.0.0.1', '--port', '0', ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no first line; stderr: ${err}`)); }, 10000);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      if (out === null) return;
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const line = out.slice(0, nl);
      out = null;
      const m = /^wsedge listening on wss:\/\/([^/]+):(\d+)\/$/.exec(line);
      if (!m) { proc.kill('SIGKILL'); reject(new Error(`bad first line ${JSON.stringify(line)}`)); return; }
      resolve({ proc, host: m[1], port: Number(m[2]), stderr: () => err });
    });
  });
}

function stopServer(srv) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { srv.proc.kill('SIGKILL'); resolve('still running 10s after SIGTERM'); }, 10000);
    srv.proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `exited with ${code ?? sig} after SIGTERM, expected 0`);
    });
    srv.proc.kill('SIGTERM');
  });
}

let SRV;
let PKI;

function open(options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${SRV.port}/echo`, {
      ca: fs.readFileSync(PKI.ca), maxPayload: 0, perMessageDeflate: false, ...options,
    });
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

async function echo(ws, data, isBinary) {
  const wait = nextMessage(ws);
  ws.send(data, { binary: isBinary });
  const got = await wait;
  check(got.isBinary === isBinary, `came back as ${got.isBinary ? 'binary' : 'text'}`);
  const want = Buffer.isBuffer(data) ? data : Buffer.from(data);
  check(Buffer.compare(got.data, want) === 0, `echo differs: ${got.data.length} vs ${want.length} bytes`);
}

function closeAndWait(ws, code) {
  return new Promise((resolve) => {
    ws.once('close', (c, r) => resolve({ code: c, reason: r.toString() }));
    ws.close(code);
  });
}

test('wss: text and binary echo; TLS 1.3 with the certificate verified', async () => {
  const ws = await open();
  check(ws._socket.getProtocol() === 'TLSv1.3', ws._socket.getProtocol());
  check(ws._socket.authorized === true, 'certificate not verified');
  await echo(ws, 'hello from node over TLS', false);
  await echo(ws, randomBytes(1000), true);
  const closed = await closeAndWait(ws, 1000);
  check(closed.code === 1000, `close code ${closed.code}`);
});

test('wss: a 16 MiB binary message comes back intact', async () => {
  const ws = await open();
  await echo(ws, randomBytes(16 * MiB), true);
  await closeAndWait(ws, 1000);
});

test('wss: permessage-deflate, compressed text (1 MiB) and small messages', async () => {
  const ws = await open({ perMessageDeflate: true });
  check(ws.extensions.includes('permessage-deflate'), `extensions ${ws.extensions}`);
  await echo(ws, 'compressible '.repeat(80000), false);
  await echo(ws, 'tiny', false);
  await echo(ws, Buffer.alloc(300000, 7), true);
  await closeAndWait(ws, 1000);
});

test('wss: TLS 1.2 (ECDHE, AEAD) works too', async () => {
  const ws = await open({ maxVersion: 'TLSv1.2' });
  check(ws._socket.getProtocol() === 'TLSv1.2', ws._socket.getProtocol());
  const cipher = ws._socket.getCipher().name;
  check(/^ECDHE-.*(GCM|CHACHA20)/.test(cipher), cipher);
  await echo(ws, 'v1.2', false);
  await closeAndWait(ws, 1000);
});

test('wss: 50 connections echo 20 messages each at once', async () => {
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const ws = await open();
    for (let j = 0; j < 20; j++) await echo(ws, `${i}:${j}`, false);
    await closeAndWait(ws, 1000);
  }));
});

test('wss: TLS 1.1 is refused', async () => {
  let failed = false;
  try {
    const ws = await open({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    ws.terminate();
  } catch (e) {
    // The server's protocol_version alert, not the client declining to offer TLS 1.1.
    check(/alert protocol version/.test(e.message), `unexpected error: ${e.message}`);
    failed = true;
  }
  check(failed, 'a TLS 1.1 client connected');
});

test('https: the echo page over TLS, ALPN http/1.1', async () => {
  const res = await new Promise((resolve, reject) => {
    const req = https.get({ host: 'localhost', port: SRV.port, path: '/', ca: fs.readFileSync(PKI.ca),
      ALPNProtocols: ['http/1.1'], agent: false }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode, body: Buffer.concat(chunks).toString(), alpn: r.socket.alpnProtocol }));
    });
    req.on('error', reject);
  });
  check(res.status === 200 && /<html/i.test(res.body), `status ${res.status}`);
  check(res.alpn === 'http/1.1', `ALPN ${res.alpn}`);
});

async function main() {
  const only = process.argv[2] || '';
  const t0 = Date.now();
  let passed = 0;
  let failed = 0;
  try {
    PKI = makePki();
    SRV = await startServer(['--log-level', 'warn', '--max-message-size', String(64 * MiB),
      '--tls-cert', PKI.cert, '--tls-key', PKI.key]);
  } catch (e) {
    console.log(`FAIL setup: ${e.message}`);
    console.log('0 passed, 1 failed');
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
  const problem = await stopServer(SRV);
  if (problem) {
    console.log(`FAIL server exits 0 on SIGTERM: ${problem}\n  stderr: ${SRV.stderr().slice(-800)}`);
    failed++;
  } else {
    console.log('ok server exits 0 on SIGTERM');
    passed++;
  }
  console.log(`suite time ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
