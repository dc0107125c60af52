// The chat page: joins /chat?room=..&name=.. with the subprotocol picked in the form and
// shows what the server negotiated. "superchat" messages are JSON {from, text, ts} (notices
// add "event"); "chat" messages are plain text lines.
'use strict';
const $ = (id) => document.getElementById(id);
const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const params = new URLSearchParams(location.search);
$('room').value = params.get('room') || 'lobby';
$('name').value = params.get('name') || 'guest' + Math.floor(Math.random() * 1000);
if (params.get('protocol')) $('protocol').value = params.get('protocol');
let ws = null;

function show(cls, parts) {
  const line = document.createElement('div');
  line.className = cls;
  for (const [c, text] of parts) {
    const span = document.createElement('span');
    if (c) span.className = c;
    span.textContent = text;
    line.appendChild(span);
  }
  $('log').appendChild(line);
  $('log').scrollTop = $('log').scrollHeight;
}

function clock(ts) {
  return new Date(ts).toLocaleTimeString();
}

function received(data) {
  if (ws.protocol !== 'superchat') {
    show(data.startsWith('* ') ? 'notice' : 'msg', [['', data]]);
    return;
  }
  const m = JSON.parse(data);
  if (m.event) {
    show('notice', [['time', clock(m.ts) + ' '], ['', '* ' + m.text + (m.here ? ` (${m.here} here)` : '')]]);
  } else {
    const mine = m.from === $('name').value.trim();
    show('msg', [['time', clock(m.ts) + ' '], [mine ? 'me' : 'from', m.from], ['', ': ' + m.text]]);
  }
}

function setJoined(joined) {
  $('join').disabled = joined;
  $('leave').disabled = !joined;
  $('message').disabled = !joined;
  $('send').disabled = !joined;
  for (const id of ['room', 'name', 'protocol']) $(id).disabled = joined;
}

$('join').onclick = () => {
  const q = new URLSearchParams({ room: $('room').value, name: $('name').value });
  ws = new WebSocket(`${wsScheme}//${location.host}/chat?${q}`, [$('protocol').value]);
  $('status').textContent = 'connecting…';
  ws.onopen = () => {
    $('status').innerHTML = '';
    $('status').append('in room ', Object.assign(document.createElement('b'), { id: 'inroom', textContent: $('room').value }),
      ' as ', Object.assign(document.createElement('b'), { textContent: $('name').value }),
      ', subprotocol ', Object.assign(document.createElement('b'), { id: 'subprotocol', textContent: ws.protocol || '(none)' }));
    setJoined(true);
    $('message').focus();
  };
  ws.onmessage = (ev) => received(ev.data);
  ws.onerror = () => show('notice', [['', 'ERROR: the connection failed']]);
  ws.onclose = (ev) => {
    show('notice', [['', `* disconnected (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`]]);
    $('status').textContent = 'not connected';
    setJoined(false);
  };
};

function send() {
  const text = $('message').value;
  if (!text || !ws) return;
  ws.send(ws.protocol === 'superchat' ? JSON.stringify({ text }) : text);
  $('message').value = '';
}
$('send').onclick = send;
$('message').onkeydown = (ev) => { if (ev.key === 'Enter') send(); };
$('leave').onclick = () => ws.close(1000, 'left');
