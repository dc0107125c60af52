// Real-browser tests of the demo pages: Debian's chromium driven by playwright-core.
//
//   node tests/browser/test_pages.mjs [WORD]      (WORD: run tests whose name has it)
//
// One wsedge ($WSEDGE_BIN, default build/wsedge) on 127.0.0.1, port 0, serving apps/web,
// with /exec running `cat` and a fast push interval. Each test opens a page, clicks and
// types like a person, and asserts on what the page shows; a screenshot of each page goes
// to $WSEDGE_SCREENSHOTS (default build/test-output/screenshots). Chromium runs headless
// with the flags that keep it off the network. Last line: "N passed, N failed".
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = process.env.WSEDGE_SCREENSHOTS || path.join(ROOT, 'build', 'test-output', 'screenshots');
const CHROMIUM = process.env.WSEDGE_CHROMIUM || '/usr/bin/chromium';
const tests = [];
const test = (name, fn, timeoutMs = 15000) => tests.push({ name, fn, timeoutMs });
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

function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(serverBinary(), ['--host', '127.0.0.1', '--port', '0', ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let all = '';  // every stdout byte, for lines after the first (the /exec token)
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no first line within 10s; stderr: ${err}`)); }, 10000);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      all += d;
      if (out === null) return;
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const m = /^wsedge listening on ws:\/\/([^/]+):(\d+)\/$/.exec(out.slice(0, nl));
      out = null;
      if (!m) { proc.kill('SIGKILL'); reject(new Error('bad first line')); return; }
      resolve({ proc, base: `http://127.0.0.1:${m[2]}`, stderr: () => err, stdout: () => all });
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
  page.setDefaultTimeout(5000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(SRV.base + pagePath);
  page.jsErrors = errors;
  return page;
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// Waits until the element's text contains `text` (a string) or matches it (a RegExp).
async function waitText(page, selector, text) {
  try {
    await page.waitForFunction(([sel, t, isRe]) => {
      const el = document.querySelector(sel);
      if (!el) return false;
      return isRe ? new RegExp(t).test(el.textContent) : el.textContent.includes(t);
    }, [selector, text instanceof RegExp ? text.source : text, text instanceof RegExp]);
  } catch (e) {
    const now = await page.textContent(selector).catch(() => '(missing)');
    throw new Error(`${selector} never showed ${text}; it shows: ${JSON.stringify(now.slice(-400))}`);
  }
}

// ----- echo: / ---------------------------------------------------------------------------
test('echo page: OPEN, text and binary round trips, CLOSE with code and reason', async () => {
  const page = await newPage('/');
  check((await page.inputValue('#url')) === SRV.base.replace('http:', 'ws:') + '/echo',
    `url box ${await page.inputValue('#url')}`);
  await page.click('#open');
  await waitText(page, '#log', 'OPEN: ws://127.0.0.1');
  await page.fill('#message', 'hello from a real browser');
  await page.click('#send');
  await waitText(page, '#log', 'SEND: hello from a real browser');
  await waitText(page, '#log', 'RESPONSE: hello from a real browser');
  await page.check('#binary');
  await page.fill('#message', 'bytes ü');
  await page.click('#send');
  await waitText(page, '#log', 'RESPONSE: binary, 8 bytes: bytes ü');
  await page.click('#close');
  await waitText(page, '#log', 'CLOSE: code 1000');
  await shot(page, 'echo');
  check(page.jsErrors.length === 0, `page errors: ${page.jsErrors}`);
  await page.context().close();
});

test('echo page: a refused connection shows ERROR and CLOSE 1006', async () => {
  const page = await newPage('/');
  // Nothing listens on port 1 of loopback: the browser's connection fails.
  await page.fill('#url', 'ws://127.0.0.1:1/echo');
  await page.click('#open');
  await waitText(page, '#log', 'ERROR: the connection failed');
  await waitText(page, '#log', 'CLOSE: code 1006');
  await page.context().close();
});

test('echo route: Chromium negotiates permessage-deflate and compressed echoes come back intact', async () => {
  const page = await newPage('/');
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('no open')); });
    const extensions = ws.extensions;
    const text = 'compress me, '.repeat(2000) + 'ü€😀';
    const echoed = await new Promise((ok) => { ws.onmessage = (ev) => ok(ev.data); ws.send(text); });
    ws.close(1000);
    return { extensions, same: echoed === text, length: echoed.length };
  }, SRV.base.replace('http:', 'ws:') + '/echo');
  // RFC 7692 §7: the browser offers permessage-deflate; the echo route accepts it.
  check(result.extensions.startsWith('permessage-deflate'), `extensions: ${JSON.stringify(result.extensions)}`);
  check(result.same, `echo differs (length ${result.length})`);
  await page.context().close();
});

// ----- chat: /chat.html ------------------------------------------------------------------
test('chat page: two tabs in one room see each other, each with the subprotocol it asked for', async () => {
  const room = 'browser-' + Date.now();
  const ann = await newPage(`/chat.html?room=${room}&name=ann&protocol=superchat`);
  const bob = await newPage(`/chat.html?room=${room}&name=bob&protocol=chat`);
  await ann.click('#join');
  await waitText(ann, '#subprotocol', 'superchat');
  await bob.click('#join');
  await waitText(bob, '#subprotocol', 'chat');
  check((await bob.textContent('#subprotocol')) === 'chat', 'bob did not get "chat"');
  await waitText(ann, '#log', 'bob joined ' + room);
  await ann.fill('#message', 'hello bob, I speak JSON');
  await ann.press('#message', 'Enter');
  await waitText(bob, '#log', 'ann: hello bob, I speak JSON');
  await waitText(ann, '#log', 'ann: hello bob, I speak JSON'); // the sender sees it too
  await bob.fill('#message', 'hi ann, I speak lines');
  await bob.click('#send');
  await waitText(ann, '#log', 'bob: hi ann, I speak lines');
  await shot(ann, 'chat');
  await shot(bob, 'chat-line-protocol');
  await bob.click('#leave');
  await waitText(ann, '#log', 'bob left');
  await waitText(bob, '#log', 'disconnected (code 1000');
  for (const p of [ann, bob]) {
    check(p.jsErrors.length === 0, `page errors: ${p.jsErrors}`);
    await p.context().close();
  }
});

// ----- metrics: /metrics.html -----------------------------------------------------------
test('metrics page: reads /metrics live and its numbers move with traffic', async () => {
  const page = await newPage('/metrics.html');
  await waitText(page, '#status', 'live:');
  const before = Number((await page.textContent('#messages')).split(' / ')[0]);
  // Traffic from inside the page: 25 echoes over a WebSocket of its own.
  await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    let got = 0;
    const done = new Promise((ok) => { ws.onmessage = () => { if (++got === 25) ok(); }; });
    for (let i = 0; i < 25; i++) ws.send(`m${i}`);
    await done;
    window.keptOpen = ws;  // stays open: the connection gauge must count it
  }, SRV.base.replace('http:', 'ws:') + '/echo');
  await page.waitForFunction((b) => {
    const [inn, out] = document.querySelector('#messages').textContent.split(' / ').map(Number);
    return inn >= b + 25 && out >= b + 25;
  }, before);
  await waitText(page, '#websockets', /^[1-9]/);
  // The charts have points, and the connections chart has seen at least one connection.
  await page.waitForFunction(() => Number(document.querySelector('#chart-connections').dataset.points) >= 3);
  check(Number(await page.getAttribute('#chart-connections', 'data-max')) >= 1, 'connections chart max');
  await shot(page, 'metrics');
  check(page.jsErrors.length === 0, `page errors: ${page.jsErrors}`);
  await page.context().close();
});

test('metrics page: a server without --metrics same-port gets a clear message', async () => {
  const plain = await startServer(['--web', 'apps/web', '--log-level', 'warn']);
  try {
    const context = await BROWSER.newContext();
    const page = await context.newPage();
    await page.goto(plain.base + '/metrics.html');
    await waitText(page, '#status', 'start it with --metrics same-port');
    await context.close();
  } finally {
    const problem = await stopServer(plain);
    check(problem === null, `the second server: ${problem}`);
  }
});

// ----- push: /push.html ------------------------------------------------------------------
test('push page: the counter and the server statistics go up on their own', async () => {
  const page = await newPage('/push.html');
  await waitText(page, '#status', 'connected');
  await page.waitForFunction(() => Number(document.querySelector('#seq').textContent) >= 1);
  const first = Number(await page.textContent('#seq'));
  const firstOut = Number((await page.textContent('#messages')).split('/')[1]);
  const firstTime = await page.textContent('#time');
  await page.waitForFunction((n) => Number(document.querySelector('#seq').textContent) >= n + 3, first);
  const later = Number(await page.textContent('#seq'));
  const laterOut = Number((await page.textContent('#messages')).split('/')[1]);
  check(later >= first + 3, `seq ${first} -> ${later}`);
  check(laterOut > firstOut, `messages out ${firstOut} -> ${laterOut}`);
  check((await page.textContent('#time')) > firstTime, 'server time did not advance');
  check(/^\d+ \(\d+\)$/.test(await page.textContent('#connections')), 'connections cell');
  check(/s$/.test(await page.textContent('#uptime')), 'uptime cell');
  await shot(page, 'push');
  await page.click('#disconnect');
  await waitText(page, '#status', 'closed (code 1000');
  check(page.jsErrors.length === 0, `page errors: ${page.jsErrors}`);
  await page.context().close();
});

// ----- exec: /exec.html ------------------------------------------------------------------
// The token wsedge made at start (no --exec-token given) and printed on its own line.
async function execToken(srv) {
  for (let i = 0; i < 500; i++) {
    const m = /^wsedge \/exec token: ([0-9a-f]{32}) /m.exec(srv.stdout());
    if (m) return m[1];
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no /exec token printed: ${srv.stdout()}`);
}

test('exec page: cat echoes the typed line; disconnect ends the command', async () => {
  const page = await newPage(`/exec.html?token=${await execToken(SRV)}`);
  await page.click('#connect');
  await waitText(page, '#status', 'running');
  await page.fill('#line', 'hello from the exec page');
  await page.press('#line', 'Enter');
  await waitText(page, '#term', '$ hello from the exec page');
  // cat's own line: the text on a line of its own, not the "$ " echo of the input.
  await waitText(page, '#term', /\nhello from the exec page\n/);
  await page.fill('#line', 'ünïcødé → ok');
  await page.press('#line', 'Enter');
  await waitText(page, '#term', /\nünïcødé → ok\n/);
  await shot(page, 'exec');
  await page.click('#disconnect');
  await waitText(page, '#term', '[closed: code 1000');
  check(page.jsErrors.length === 0, `page errors: ${page.jsErrors}`);
  await page.context().close();
});

// ----- runner ----------------------------------------------------------------------------
async function main() {
  const only = process.argv[2] || '';
  const t0 = Date.now();
  let passed = 0;
  let failed = 0;
  try {
    SRV = await startServer(['--web', 'apps/web', '--log-level', 'warn', '--push-interval', '0.2',
      '--exec', 'cat', '--metrics', 'same-port']);
    BROWSER = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: OFFLINE_ARGS, timeout: 20000 });
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
  console.log(`screenshots in ${SHOTS}`);
  console.log(`suite time ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
