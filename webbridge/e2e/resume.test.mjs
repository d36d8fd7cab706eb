import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { URL, ALICE, call, waitEvent, Output, createTerminal, checkSequence, connect } from './helpers.mjs';

// A dropped connection resumes with lastSeq: no gap, no duplicate.
test('resume after a dropped connection with lastSeq', async (t) => {
  const socket = io(URL, {
    auth: { token: ALICE },
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    forceNew: true,
  });
  t.after(() => socket.close());
  await waitEvent(socket, 'connect');
  const { sessionId } = await createTerminal(socket);
  const out = new Output(socket, sessionId);

  // Re-attach on every reconnection from the last offset seen.
  let reconnects = 0;
  socket.on('connect', () => {
    reconnects++;
    socket.emit('attach-terminal', { sessionId, lastSeq: out.seq });
  });

  // Output keeps flowing for about a second, through the drop.
  await call(socket, 'terminal-input', {
    sessionId,
    data: 'echo BE""GIN; i=1; while [ $i -le 20000 ]; do echo $i; [ $((i % 2000)) -eq 0 ] && sleep 0.1; i=$((i+1)); done; echo DO""NE\r',
  });
  await out.waitFor('\r\n5000\r\n');
  const dropped = waitEvent(socket, 'disconnect');
  socket.io.engine.close();
  await dropped;
  await out.waitFor('DONE', 30000);
  assert.ok(reconnects >= 1, 'reconnected');
  checkSequence(out.text, 'BEGIN\r\n', 'DONE', 1, 20000);

  // Every chunk continues exactly where the previous one ended.
  let seq = out.chunks[0].seq - Buffer.byteLength(out.chunks[0].output);
  for (const c of out.chunks) {
    assert.ok(!c.repaint, 'no repaint: the ring held the missing bytes');
    assert.equal(c.seq - Buffer.byteLength(c.output), seq, 'contiguous offsets');
    seq = c.seq;
  }
  await call(socket, 'kill-terminal', { sessionId });
});

// A client that stops reading beside one that reads falls behind the
// faster one and gets a repaint; the reading one sets the shell's pace and
// keeps its full stream, and session-status counts the repaint.
test('a lagging client gets a repaint while the other keeps its full stream', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const p = await connect(ALICE, { transports: ['polling'] });
  t.after(() => p.close());

  const { sessionId } = await createTerminal(a);
  const outA = new Output(a, sessionId);
  const outP = new Output(p, sessionId);
  assert.equal((await call(p, 'attach-terminal', { sessionId, lastSeq: 0 })).ok, true);
  await call(a, 'terminal-input', { sessionId, data: 'echo re""ady\r' });
  await outP.waitFor('ready');

  // Stop polling: the server's queue for p fills, then its attachment
  // falls behind.
  const transport = p.io.engine.transport;
  const paused = new Promise((resolve) => transport.pause(resolve));
  const before = outP.chunks.length;
  // About 2.3 MB, three times what the test server queues for a client
  // (768 KiB), in bursts of 40 KB: the reading client has room for a
  // dozen, so a busy test machine pausing it does not make it lag too.
  await call(a, 'terminal-input', {
    sessionId,
    data: 'echo ST""ART; for i in $(seq 0 59); do seq $((i*5000+1)) $((i*5000+5000)); sleep 0.02; done; echo FIN""ISHED\r',
  });
  await paused;
  await outA.waitFor('FINISHED', 60000);
  checkSequence(outA.text, 'START\r\n', 'FINISHED', 1, 300000);
  assert.ok(outA.chunks.every((c) => !c.repaint), 'the reading client never needed a repaint');

  // Resume polling: p gets a repaint instead of the bytes it lost.
  transport.readyState = 'open';
  transport._poll();
  const repaint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no repaint for the lagging client')), 30000);
    const check = () => {
      const r = outP.chunks.slice(before).find((c) => c.repaint);
      if (r) { clearTimeout(timer); resolve(r); return true; }
      return false;
    };
    if (!check()) outP.waiters.push(check);
  });
  assert.equal(typeof repaint.seq, 'number');
  const status = waitEvent(a, 'session-status', (s) => s.sessionId === sessionId && s.clients.some((c) => c.repaints > 0));
  await call(a, 'rename-terminal', { sessionId, name: 'after the lag' });
  const { clients } = await status;
  assert.deepEqual(clients.map((c) => c.repaints).sort(), [0, 1], 'the lagging client has one repaint, the reader none');
  // And it is live again.
  await call(a, 'terminal-input', { sessionId, data: 'echo after-l""ag\r' });
  await outP.waitFor('after-lag');
  await call(a, 'kill-terminal', { sessionId });
});
