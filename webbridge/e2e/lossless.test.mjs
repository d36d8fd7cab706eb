import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, call, connect, createTerminal, checkSequence, waitEvent } from './helpers.mjs';

// stream follows one session's terminal-output without keeping more than
// the text: a 21 MB stream checked chunk by chunk. pauseAt makes the
// client stop taking events once for a while after that many characters,
// as a busy tab would.
function stream(socket, sessionId, endMarker, { pauseAt = 0, pauseMs = 0 } = {}) {
  const parts = [];
  let seq = -1;
  let chars = 0;
  let repaints = 0;
  let broken = null;
  let paused = false;
  let tail = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${endMarker} after ${chars} characters; ends ${JSON.stringify(tail.slice(-200))}`)), 120000);
    socket.on('terminal-output', (o) => {
      if (o.sessionId !== sessionId || o.query) return;
      if (o.repaint) repaints++;
      else if (seq >= 0 && o.seq - Buffer.byteLength(o.output) !== seq) broken ??= `chunk at ${o.seq} does not follow ${seq}`;
      seq = o.seq;
      parts.push(o.output);
      chars += o.output.length;
      tail = (tail + o.output).slice(-64);
      if (pauseAt > 0 && !paused && chars > pauseAt) {
        paused = true;
        // Stop reading the TCP socket: the server's queues for this
        // client fill up.
        const ws = socket.io.engine.transport.ws;
        if (ws?._socket) ws._socket.pause();
        setTimeout(() => { if (ws?._socket) ws._socket.resume(); }, pauseMs);
      }
      if (tail.includes(endMarker)) {
        clearTimeout(timer);
        resolve({ text: parts.join(''), repaints, broken });
      }
    });
  });
}

// A client alone in a session gets every byte of a stream far larger than
// its queues, with contiguous offsets and no repaint, although it stops
// reading for a while: the shell waits for it.
test('seq 1 3000000 over websocket: every line, contiguous offsets, no repaint', async (t) => {
  const socket = await connect(ALICE);
  t.after(() => socket.close());
  const { sessionId } = await createTerminal(socket);
  const got = stream(socket, sessionId, 'FINISHED', { pauseAt: 1 << 20, pauseMs: 1500 });
  await call(socket, 'terminal-input', { sessionId, data: 'echo ST""ART; seq 1 3000000; echo FIN""ISHED\r' });
  const { text, repaints, broken } = await got;
  assert.equal(broken, null);
  assert.equal(repaints, 0, 'no repaint');
  checkSequence(text, 'START\r\n', 'FINISHED', 1, 3000000);
  await call(socket, 'kill-terminal', { sessionId });
});

// The same over long-polling, where the client's read progress is its
// requests.
test('seq 1 300000 over polling: every line, contiguous offsets, no repaint', async (t) => {
  const socket = await connect(ALICE, { transports: ['polling'] });
  t.after(() => socket.close());
  const { sessionId } = await createTerminal(socket);
  const got = stream(socket, sessionId, 'FINISHED');
  await call(socket, 'terminal-input', { sessionId, data: 'echo ST""ART; seq 1 300000; echo FIN""ISHED\r' });
  const { text, repaints, broken } = await got;
  assert.equal(broken, null);
  assert.equal(repaints, 0, 'no repaint');
  checkSequence(text, 'START\r\n', 'FINISHED', 1, 300000);
  const status = waitEvent(socket, 'session-status', (s) => s.sessionId === sessionId);
  await call(socket, 'rename-terminal', { sessionId, name: 'done' });
  const { clients } = await status;
  assert.equal(clients.length, 1);
  assert.equal(clients[0].repaints, 0);
  await call(socket, 'kill-terminal', { sessionId });
});
