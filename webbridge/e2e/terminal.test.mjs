import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, waitEvent, Output, createTerminal, checkSequence, ALICE, ALICE_WS } from './helpers.mjs';

test('terminal events: create, input, resize, list, detach, attach, kill', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());

  // create-terminal: terminal-created, the ack, and the creator is attached.
  const out = new Output(a, '');
  const statusActive = waitEvent(a, 'session-status', (s) => s.status === 'active');
  const { sessionId, created, ack } = await createTerminal(a);
  out.sessionId = sessionId;
  assert.equal(created.sessionId, sessionId);
  assert.equal(created.workspaceId, ALICE_WS);
  assert.equal(created.shell, 'sh');
  assert.ok(created.pid > 0);
  assert.equal(ack.ok, true);
  const st = await statusActive;
  assert.equal(st.sessionId, sessionId);
  assert.equal(st.workspaceId, ALICE_WS);
  assert.equal(st.pid, created.pid);
  assert.ok(st.lastActivity);

  // terminal-input echoes through terminal-output.
  const inAck = await call(a, 'terminal-input', { sessionId, data: 'echo hel""lo-$((6*7))\r' });
  assert.equal(inAck.ok, true);
  await out.waitFor('hello-42');
  const last = out.chunks[out.chunks.length - 1];
  assert.equal(typeof last.seq, 'number');
  assert.ok(!Number.isNaN(Date.parse(last.timestamp)));

  // terminal-resize reaches the PTY.
  assert.equal((await call(a, 'terminal-resize', { sessionId, cols: 101, rows: 37 })).ok, true);
  let from = out.text.length;
  await call(a, 'terminal-input', { sessionId, data: 'stty size\r' });
  await out.waitFor('37 101', undefined, from);

  // list-terminals
  const listed = waitEvent(a, 'terminals-listed');
  const listAck = await call(a, 'list-terminals', { workspaceId: ALICE_WS });
  assert.equal(listAck.ok, true);
  const list = await listed;
  assert.equal(list.workspaceId, ALICE_WS);
  const mine = list.terminals.find((x) => x.id === sessionId);
  assert.ok(mine, 'the new terminal is listed');
  assert.equal(mine.sessionId, sessionId);
  assert.equal(mine.shell, 'sh');
  assert.equal(mine.pid, created.pid);
  assert.equal(mine.cols, 101);
  assert.equal(mine.rows, 37);
  assert.equal(mine.status, 'active');
  assert.equal(mine.attached, 1);
  assert.ok(mine.createdAt && mine.lastActivity);

  // rename-terminal updates session-status.
  const renamed = waitEvent(a, 'session-status', (s) => s.sessionId === sessionId && s.name === 'build');
  assert.equal((await call(a, 'rename-terminal', { sessionId, name: 'build' })).ok, true);
  await renamed;

  // detach-terminal: output stops; attach-terminal with lastSeq replays
  // exactly what was missed.
  const seqAtDetach = out.seq;
  const textAtDetach = out.text;
  const detached = waitEvent(a, 'terminal-detached');
  assert.equal((await call(a, 'detach-terminal', { sessionId })).ok, true);
  assert.equal((await detached).sessionId, sessionId);

  const b = await connect(ALICE);
  t.after(() => b.close());
  const outB = new Output(b, sessionId);
  const attachedB = waitEvent(b, 'terminal-attached');
  assert.equal((await call(b, 'attach-terminal', { sessionId })).ok, true);
  const att = await attachedB;
  assert.equal(att.sessionId, sessionId);
  assert.equal(att.workspaceId, ALICE_WS);
  assert.equal(att.shell, 'sh');
  assert.equal(att.pid, created.pid);
  assert.equal(typeof att.seq, 'number');
  await call(b, 'terminal-input', { sessionId, data: 'echo while-det""ached\r' });
  await outB.waitFor('while-detached');
  assert.ok(outB.chunks[0].repaint, 'a new client starts with a repaint');
  assert.ok(!out.text.slice(textAtDetach.length).includes('while-detached'), 'detached socket got no output');

  const reattached = waitEvent(a, 'terminal-attached');
  const replayStart = out.chunks.length;
  assert.equal((await call(a, 'attach-terminal', { sessionId, lastSeq: seqAtDetach })).ok, true);
  await reattached;
  await out.waitFor('while-detached', undefined, textAtDetach.length);
  const replay = out.chunks.slice(replayStart);
  assert.ok(!replay[0].repaint, 'a known offset replays instead of repainting');
  assert.equal(replay[0].seq - Buffer.byteLength(replay[0].output), seqAtDetach, 'replay starts at lastSeq');

  // kill-terminal: terminal-killed, process-exit and session-status.
  const killed = waitEvent(a, 'terminal-killed');
  const exited = waitEvent(a, 'process-exit', (x) => x.sessionId === sessionId);
  const terminated = waitEvent(b, 'session-status', (s) => s.sessionId === sessionId && s.status === 'terminated');
  const killAck = await call(a, 'kill-terminal', { sessionId });
  assert.equal(killAck.ok, true);
  assert.equal((await killed).sessionId, sessionId);
  const exit = await exited;
  assert.equal(exit.pid, created.pid);
  assert.equal(typeof exit.exitCode, 'number');
  assert.ok(exit.signal === null || typeof exit.signal === 'string');
  await terminated;

  // The session is gone.
  const gone = await call(a, 'terminal-input', { sessionId, data: 'x' });
  assert.equal(gone.ok, false);
  assert.equal(gone.error.code, 'SESSION_NOT_FOUND');
});

test('a second client over polling sees the same output', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const p = await connect(ALICE, { transports: ['polling'] });
  t.after(() => p.close());
  assert.equal(p.io.engine.transport.name, 'polling');

  const { sessionId } = await createTerminal(a);
  const outA = new Output(a, sessionId);
  const outP = new Output(p, sessionId);
  // From offset 0 the replay is the whole stream, as the creator saw it.
  assert.equal((await call(p, 'attach-terminal', { sessionId, lastSeq: 0 })).ok, true);
  await call(a, 'terminal-input', { sessionId, data: 'for i in 1 2 3; do echo poll-$i; done; echo EN""D\r' });
  await outA.waitFor('poll-3\r\nEND');
  await call(p, 'terminal-input', { sessionId, data: 'echo from-po""lling\r' });
  await outA.waitFor('from-polling');
  await outP.waitFor('from-polling');
  // From the first command on: the shell's first prompt can reach the
  // creator before its listener for the new session's output is set up.
  const cut = (s) => s.slice(s.indexOf('for i in'), s.indexOf('from-polling') + 'from-polling'.length);
  assert.ok(outP.text.includes('for i in') && outA.text.includes('for i in'));
  assert.equal(cut(outP.text), cut(outA.text));
  assert.ok(outA.text.includes('poll-1\r\npoll-2\r\npoll-3\r\nEND'));
  await call(a, 'kill-terminal', { sessionId });
});

// Over long-polling a stream arrives in many answers, some of them large,
// while the client's other events go out as POSTs beside them.
test('a polling client follows a long stream to the end', async (t) => {
  const p = await connect(ALICE, { transports: ['polling'] });
  t.after(() => p.close());
  const { sessionId } = await createTerminal(p);
  const out = new Output(p, sessionId);
  await call(p, 'terminal-input', {
    sessionId,
    data: 'echo ST""ART; for i in $(seq 0 29); do seq $((i*5000+1)) $((i*5000+5000)); sleep 0.02; done; echo DO""NE\r',
  });
  let streaming = true;
  const side = (async () => {
    while (streaming) {
      const ack = await call(p, 'list-terminals', { workspaceId: ALICE_WS });
      assert.equal(ack.ok, true);
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  try {
    await out.waitFor('DONE', 60000);
  } finally {
    streaming = false;
    await side;
  }
  checkSequence(out.text, 'START\r\n', 'DONE', 1, 150000);
  assert.ok(p.connected, 'still connected');
  assert.equal(p.io.engine.transport.name, 'polling');
  await call(p, 'kill-terminal', { sessionId });
});
