// Shared helpers for the end-to-end suite. TestNodeE2E (webbridge/e2e_test.go)
// starts a server and passes its URL and tokens in the environment.
import { io } from 'socket.io-client';

export const URL = mustEnv('CODETERM_URL');
export const ALICE = mustEnv('ALICE_TOKEN');
export const BOB = mustEnv('BOB_TOKEN');
export const ALICE_WS = mustEnv('ALICE_WS');
export const BOB_WS = mustEnv('BOB_WS');
export const DEADLINE = 15000;

export function env(name) {
  return mustEnv(name);
}

function mustEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this suite through "go test ./webbridge -run TestNodeE2E"`);
  return v;
}

// connect opens a socket and resolves once it is connected.
export async function connect(token, opts = {}) {
  const socket = io(URL, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...opts,
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), DEADLINE);
    socket.once('connect', () => { clearTimeout(timer); resolve(); });
    socket.once('connect_error', (err) => { clearTimeout(timer); reject(err); });
  });
  return socket;
}

// connectError resolves with the connect_error of a refused socket.
export function connectError(auth) {
  const socket = io(URL, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.close(); reject(new Error('no connect_error')); }, DEADLINE);
    socket.once('connect', () => { clearTimeout(timer); socket.close(); reject(new Error('connected')); });
    socket.once('connect_error', (err) => { clearTimeout(timer); socket.close(); resolve(err); });
  });
}

// call emits with an acknowledgement and resolves with it.
export function call(socket, event, payload, ms = DEADLINE) {
  return payload === undefined
    ? socket.timeout(ms).emitWithAck(event)
    : socket.timeout(ms).emitWithAck(event, payload);
}

// waitEvent resolves with the next event matching pred. Register it before
// causing the event.
export function waitEvent(socket, name, pred = () => true, ms = DEADLINE) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(name, onEvent);
      reject(new Error(`timed out waiting for ${name}`));
    }, ms);
    function onEvent(data) {
      if (!pred(data)) return;
      clearTimeout(timer);
      socket.off(name, onEvent);
      resolve(data);
    }
    socket.on(name, onEvent);
  });
}

// Output collects one session's terminal-output on a socket.
export class Output {
  constructor(socket, sessionId) {
    this.sessionId = sessionId;
    this.chunks = [];
    this.waiters = [];
    this.onOutput = (o) => {
      if (o.sessionId !== this.sessionId) return;
      this.chunks.push(o);
      for (const w of [...this.waiters]) w();
    };
    socket.on('terminal-output', this.onOutput);
    this.socket = socket;
  }

  // text is the concatenated output, queries left out.
  get text() {
    return this.chunks.filter((c) => !c.query).map((c) => c.output).join('');
  }

  get seq() {
    return this.chunks.length ? this.chunks[this.chunks.length - 1].seq : 0;
  }

  // waitFor resolves once the output contains s (from byte offset from on).
  waitFor(s, ms = DEADLINE, from = 0) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.text.indexOf(s, from) >= 0) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(this.text);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for output ${JSON.stringify(s)}; got ...${JSON.stringify(this.text.slice(-300))}`));
      }, ms);
      if (!check()) this.waiters.push(check);
    });
  }

  stop() {
    this.socket.off('terminal-output', this.onOutput);
  }
}

// createTerminal creates a sh session and resolves with its id and the
// terminal-created event.
export async function createTerminal(socket, workspaceId = ALICE_WS, extra = {}) {
  const created = waitEvent(socket, 'terminal-created');
  const ack = await call(socket, 'create-terminal', { workspaceId, shell: 'sh', cols: 80, rows: 24, ...extra });
  if (!ack.ok) throw new Error(`create-terminal: ${JSON.stringify(ack)}`);
  return { sessionId: ack.sessionId, created: await created, ack };
}

// numbers extracts the lines between the markers and checks they are
// exactly first..last.
export function checkSequence(text, startMarker, endMarker, first, last) {
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker, start);
  if (start < 0 || end < 0) throw new Error('markers not found');
  const lines = text.slice(start + startMarker.length, end).split('\r\n').filter((l) => l !== '');
  const want = last - first + 1;
  if (lines.length !== want) {
    throw new Error(`got ${lines.length} lines, want ${want}`);
  }
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== String(first + i)) {
      throw new Error(`line ${i}: got ${JSON.stringify(lines[i])}, want ${first + i} (gap or duplicate)`);
    }
  }
}

export async function control(path) {
  const res = await fetch(URL + path, { method: 'POST' });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}
