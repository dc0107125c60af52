// The echo page: builds ws:// or wss:// from the page's own location, so it works from
// any host name the server is reached by.
'use strict';
const $ = (id) => document.getElementById(id);
const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
$('url').value = `${wsScheme}//${location.host}/echo`;
let ws = null;

function log(kind, text) {
  const line = document.createElement('span');
  line.className = kind.toLowerCase();
  line.textContent = `${kind}: ${text}\n`;
  $('log').appendChild(line);
}

function setOpen(open) {
  $('open').disabled = open;
  $('close').disabled = !open;
  $('send').disabled = !open;
}

$('open').onclick = () => {
  ws = new WebSocket($('url').value);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { log('OPEN', ws.url); setOpen(true); };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') log('RESPONSE', ev.data);
    else log('RESPONSE', `binary, ${ev.data.byteLength} bytes: ` + new TextDecoder().decode(ev.data));
  };
  ws.onerror = () => log('ERROR', 'the connection failed');
  ws.onclose = (ev) => { log('CLOSE', `code ${ev.code}${ev.reason ? ', ' + ev.reason : ''}`); setOpen(false); };
};

$('send').onclick = () => {
  const text = $('message').value;
  if ($('binary').checked) {
    ws.send(new TextEncoder().encode(text));
    log('SEND', `binary, ${new TextEncoder().encode(text).length} bytes`);
  } else {
    ws.send(text);
    log('SEND', text);
  }
};

$('close').onclick = () => ws.close(1000, 'bye');
