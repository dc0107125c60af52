// The exec page: a small terminal on /exec. Each Enter sends one line to the command's
// stdin; each message from the server is one line of its output. A token from the page's
// own ?token= (or the box) is passed on as ?token=, since browsers cannot set headers on
// a WebSocket handshake.
'use strict';
const $ = (id) => document.getElementById(id);
const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
$('token').value = new URLSearchParams(location.search).get('token') || '';
let ws = null;

function print(cls, text) {
  const span = document.createElement('span');
  if (cls) span.className = cls;
  span.textContent = text + '\n';
  $('term').appendChild(span);
  $('term').scrollTop = $('term').scrollHeight;
}

function setConnected(on) {
  $('connect').disabled = on;
  $('disconnect').disabled = !on;
  $('line').disabled = !on;
}

$('connect').onclick = () => {
  const token = $('token').value;
  const q = token ? `?${new URLSearchParams({ token })}` : '';
  ws = new WebSocket(`${wsScheme}//${location.host}/exec${q}`);
  $('status').textContent = 'connecting…';
  ws.onopen = () => {
    $('status').textContent = 'running';
    print('sys', '[connected: the command is running]');
    setConnected(true);
    $('line').focus();
  };
  ws.onmessage = (ev) => print('', ev.data);
  // The handshake's status (404 without --exec, 401 for a wrong token) is not visible to
  // scripts; a failed open is all the page learns.
  ws.onerror = () => print('sys', '[error: the connection failed — is wsedge running with --exec, and is the token right?]');
  ws.onclose = (ev) => {
    print('sys', `[closed: code ${ev.code}${ev.reason ? ', ' + ev.reason : ''}]`);
    $('status').textContent = 'not connected';
    setConnected(false);
  };
};

$('line').onkeydown = (ev) => {
  if (ev.key !== 'Enter' || !ws) return;
  const text = $('line').value;
  print('in', '$ ' + text);
  ws.send(text);
  $('line').value = '';
};
$('disconnect').onclick = () => ws.close(1000, 'bye');
