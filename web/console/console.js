// pcvm's web console: COM1 in an xterm.js terminal over /serial and an HMP prompt over
// /monitor, on the WebSocket server that served this page. The token the page was opened
// with (?token=...) is passed on to both endpoints.
import { Terminal } from './assets/xterm.mjs';

const token = new URLSearchParams(location.search).get('token');

function endpoint(path) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  if (token !== null) url.searchParams.set('token', token);
  return url.href;
}

function showState(id, label, text, down) {
  const el = document.getElementById(id);
  el.textContent = `${label}: ${text}`;
  el.classList.toggle('down', down);
}

/** The reason a connection ended, in words (1008: refused by policy, e.g. a wrong token). */
function closeReason(ev) {
  if (ev.code === 1006) return 'disconnected (refused or lost)';
  return `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`;
}

// --- COM1 ---------------------------------------------------------------------------------
const term = new Terminal({ cols: 80, rows: 25, scrollback: 2000, convertEol: false, fontSize: 14 });
term.open(document.getElementById('serial'));
const serial = new WebSocket(endpoint('serial'));
serial.binaryType = 'arraybuffer';
const encoder = new TextEncoder();
serial.addEventListener('open', () => {
  showState('serial-state', 'serial', 'connected', false);
  term.focus();
});
serial.addEventListener('message', (ev) => {
  term.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data));
});
serial.addEventListener('close', (ev) => showState('serial-state', 'serial', closeReason(ev), true));
term.onData((data) => {
  if (serial.readyState === WebSocket.OPEN) serial.send(encoder.encode(data));
});

// --- monitor ------------------------------------------------------------------------------
const output = document.getElementById('monitor-output');
const input = document.getElementById('monitor-input');
const history = [];
let historyPos = 0;
const monitor = new WebSocket(endpoint('monitor'));

function appendOutput(text) {
  output.append(document.createTextNode(text.replace(/\r\n/g, '\n')));
  output.scrollTop = output.scrollHeight;
}

monitor.addEventListener('open', () => showState('monitor-state', 'monitor', 'connected', false));
monitor.addEventListener('message', (ev) => appendOutput(String(ev.data)));
monitor.addEventListener('close', (ev) => showState('monitor-state', 'monitor', closeReason(ev), true));

document.getElementById('monitor-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const line = input.value;
  input.value = '';
  appendOutput(`(qemu) ${line}\n`);
  if (line.trim() !== '') {
    if (history[history.length - 1] !== line) history.push(line);
    historyPos = history.length;
  }
  if (monitor.readyState === WebSocket.OPEN) monitor.send(line);
  else appendOutput('(the monitor is not connected)\n');
});

input.addEventListener('keydown', (ev) => {
  if (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown') return;
  ev.preventDefault();
  historyPos = Math.max(0, Math.min(history.length, historyPos + (ev.key === 'ArrowUp' ? -1 : 1)));
  input.value = history[historyPos] ?? '';
});
