// Real-browser tests over TLS: Debian's chromium opens the echo page over https:// and
// talks to the echo route over wss://.
//
//   node tests/browser/test_tls.mjs [WORD]      (WORD: run tests whose name has it)
//
// One wsedge ($WSEDGE_BIN) on 127.0.0.1, port 0, with a throwaway certificate made by
// tests/support/tls.py (under $WSEDGE_TEST_OUT). Chromium accepts it through its launch
// flag --ignore-certificate-errors (the test CA is not in its store); every other
// flag is the offline set of test_pages.mjs. Last line: "N passed, N failed".
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = process.env.WSEDGE_SCREENSHOTS || path.join(ROOT, 'build', 'test-output', 'screenshots');
const CHROMIUM = process.env.WSEDGE_CHROMIUM || '/usr/bin/chromium';
const tests = [];
const test = (name, fn, timeoutMs = 20000) => tests.push({ name, fn, timeoutMs });
const check = (cond, msg) => { if (!cond) throw new Error(msg); };

// No traffic leaves the machine: no DNS but for what we map, no background services.
const OFFLINE_ARGS = [
  '--no-sandbox', // root in a container: the setuid sandbox is not available
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  '--proxy-server=direct://', '--proxy-bypass-list=*',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--disable-domain-reliability',
  '--disable-client-side-phishing-detection', '--disable-breakpad', '--no-first-run',
  '--no-default-browser-check', '--no-pings', '--metrics-recording-only',
  '--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication',
];

function serverBinary() {
  const bin = process.env.WSEDGE_BIN || 'build/wsedge';
  return path.isAbsolute(bin) ? bin : path.join(ROOT, bin);
}

function makePki() {
  const base = process.env.WSEDGE_TEST_OUT || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'tls-browser-'));
  return JSON.parse(execFileSync('/usr/bin/python3', [path.join(ROOT, 'tests/support/tls.py'), dir],
    { encoding: 'utf8' }));
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
      if (out === null) return;
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const m = /^wsedge listening on wss:\/\/([^/]+):(\d+)\/$/.exec(out.slice(0, nl));
      out = null;
      if (!m) { proc.kill('SIGKILL'); reject(new Error('bad first line')); return; }
      resolve({ proc, base: `https://127.0.0.1:${m[2]}`, stderr: () => err });
    });
  });
}

function stopServer(srv) {
  return new Promise((resolve) => {
    if (srv.proc.exitCode !== null || srv.proc.signalCode !== null) {
      resolve(`server had already exited (${srv.proc.exitCode ?? srv.proc.signalCode})`);
      return;
    }
    const timer = setTimeout(() => { srv.proc.kill('SIGKILL'); resolve('still running 10s after SIGTERM'); }, 10000);
    srv.proc.on('exit', (code, sig) => { clearTimeout(timer); resolve(code === 0 ? null : `exited with ${code ?? sig}`); });
    srv.proc.kill('SIGTERM');
  });
}

let SRV;
let BROWSER;

async function newPage(pagePath) {
  const context = await BROWSER.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const response = await page.goto(SRV.base + pagePath);
  page.jsErrors = errors;
  page.firstResponse = response;
  return page;
}

async function waitText(page, selector, text) {
  try {
    await page.waitForFunction(([sel, t]) => {
      const el = document.querySelector(sel);
      return !!el && el.textContent.includes(t);
    }, [selector, text]);
  } catch (e) {
    const now = await page.textContent(selector).catch(() => '(missing)');
    throw new Error(`${selector} never showed ${text}; it shows: ${JSON.stringify(now.slice(-400))}`);
  }
}

test('echo page over https: the page builds a wss:// URL; text and binary round trips; CLOSE 1000', async () => {
  const page = await newPage('/');
  check(page.firstResponse.status() === 200, `status ${page.firstResponse.status()}`);
  const security = await page.firstResponse.securityDetails();
  check(security && /^TLS 1\.[23]$/.test(security.protocol), `TLS ${JSON.stringify(security)}`);
  const wss = SRV.base.replace('https:', 'wss:') + '/echo';
  check((await page.inputValue('#url')) === wss, `url box ${await page.inputValue('#url')}`);
  await page.click('#open');
  await waitText(page, '#log', 'OPEN: wss://127.0.0.1');
  await page.fill('#message', 'hello over wss from a real browser');
  await page.click('#send');
  await waitText(page, '#log', 'RESPONSE: hello over wss from a real browser');
  await page.check('#binary');
  await page.fill('#message', 'bytes ü');
  await page.click('#send');
  await waitText(page, '#log', 'RESPONSE: binary, 8 bytes: bytes ü');
  await page.click('#close');
  await waitText(page, '#log', 'CLOSE: code 1000');
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'echo-tls.png') });
  check(page.jsErrors.length === 0, `page errors: ${page.jsErrors}`);
  await page.context().close();
});

test('wss from the page: permessage-deflate, a 4 MiB binary and 100 pipelined messages echo intact', async () => {
  const page = await newPage('/');
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('no open')); });
    const got = [];
    const want = 102;
    const done = new Promise((ok) => { ws.onmessage = (ev) => { got.push(ev.data); if (got.length === want) ok(); }; });
    const big = new Uint8Array(4 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 255;
    const text = 'compress me over TLS, '.repeat(3000) + 'ü€😀';
    ws.send(big);
    ws.send(text);
    for (let i = 0; i < 100; i++) ws.send(`m${i}`);
    await done;
    const back = new Uint8Array(got[0]);
    let same = back.length === big.length;
    for (let i = 0; same && i < big.length; i++) same = back[i] === big[i];
    const order = got.slice(2).every((m, i) => m === `m${i}`);
    ws.close(1000);
    return { extensions: ws.extensions, big: same, text: got[1] === text, order, proto: location.protocol };
  }, SRV.base.replace('https:', 'wss:') + '/echo');
  check(result.proto === 'https:', result.proto);
  check(result.extensions.startsWith('permessage-deflate'), `extensions: ${JSON.stringify(result.extensions)}`);
  check(result.big, '4 MiB binary echo differs');
  check(result.text, 'compressed text echo differs');
  check(result.order, '100 pipelined messages out of order or missing');
  await page.context().close();
});

test('push page over https: the server speaks first over wss', async () => {
  const page = await newPage('/push.html');
  await waitText(page, '#status', 'connected');
  await page.waitForFunction(() => Number(document.querySelector('#seq').textContent) >= 2);
  check(page.jsErrors.length === 0, `page errors: ${page.jsErrors}`);
  await page.context().close();
});

async function main() {
  const only = process.argv[2] || '';
  const t0 = Date.now();
  let passed = 0;
  let failed = 0;
  try {
    const pki = makePki();
    SRV = await startServer(['--web', 'apps/web', '--log-level', 'warn', '--push-interval', '0.2',
      '--tls-cert', pki.cert, '--tls-key', pki.key]);
    BROWSER = await chromium.launch({ executablePath: CHROMIUM, headless: true,
      args: [...OFFLINE_ARGS, '--ignore-certificate-errors'], timeout: 20000 });
  } catch (e) {
    console.log(`FAIL setup: ${e.message}`);
    if (SRV) await stopServer(SRV);
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
  await BROWSER.close();
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
