import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, waitEvent, Output, createTerminal, env, ALICE, BOB, ALICE_WS } from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Retry until the rate limiter lets events through again.
async function callWhenAllowed(socket, event, payload) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const ack = await call(socket, event, payload);
    if (ack.ok || ack.error?.code !== 'RATE_LIMITED' || Date.now() > deadline) return ack;
    await sleep(100);
  }
}

test('limits: oversized input, invalid payloads, rate limit; the connection survives', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const { sessionId } = await createTerminal(a);
  const out = new Output(a, sessionId);

  // Input above sessions.max_input_bytes.
  const max = Number(env('MAX_INPUT_BYTES'));
  const termErr = waitEvent(a, 'terminal-error', (e) => e.code === 'INPUT_TOO_LARGE');
  const big = await call(a, 'terminal-input', { sessionId, data: 'x'.repeat(max + 1) });
  assert.equal(big.ok, false);
  assert.equal(big.error.code, 'INPUT_TOO_LARGE');
  const te = await termErr;
  assert.equal(te.sessionId, sessionId);
  assert.ok(te.message && te.timestamp);

  // Missing and wrongly typed fields name the field.
  for (const [event, payload, field] of [
    ['terminal-input', { sessionId }, 'data'],
    ['terminal-input', { sessionId, data: 42 }, 'data'],
    ['terminal-resize', { sessionId, cols: '80', rows: 24 }, 'cols'],
    ['create-terminal', { cols: 80, rows: 24 }, 'workspaceId'],
    ['attach-terminal', {}, 'sessionId'],
  ]) {
    const ack = await call(a, event, payload);
    assert.equal(ack.ok, false, event);
    assert.equal(ack.error.code, 'INVALID_PAYLOAD', event);
    assert.equal(ack.error.field, field, event);
  }
  const notObject = await call(a, 'terminal-input', 'ls');
  assert.equal(notObject.error.code, 'INVALID_PAYLOAD');

  // A flood is refused with RATE_LIMITED, once as an error event.
  const limit = Number(env('EVENTS_PER_SECOND'));
  const rateErr = waitEvent(a, 'error', (e) => e.code === 'RATE_LIMITED');
  const acks = await Promise.all(Array.from({ length: limit * 3 }, () => call(a, 'list-terminals', { workspaceId: ALICE_WS })));
  const limited = acks.filter((x) => x.error?.code === 'RATE_LIMITED').length;
  assert.ok(limited >= limit, `${limited} of ${limit * 3} events refused`);
  await rateErr;

  // Still connected and working.
  assert.ok(a.connected);
  const ok = await callWhenAllowed(a, 'terminal-input', { sessionId, data: 'echo sur""vived\r' });
  assert.equal(ok.ok, true);
  await out.waitFor('survived');
  await callWhenAllowed(a, 'kill-terminal', { sessionId });
});

test("another user's session and workspace look exactly like missing ones", async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const b = await connect(BOB);
  t.after(() => b.close());
  const { sessionId } = await createTerminal(a);

  const strip = (ack, id) => JSON.stringify(ack).replaceAll(id, 'ID');
  for (const event of ['attach-terminal', 'terminal-input', 'terminal-resize', 'kill-terminal', 'rename-terminal']) {
    const payload = { data: 'x', cols: 80, rows: 24, name: 'n' };
    const theirs = await call(b, event, { ...payload, sessionId });
    const missing = await call(b, event, { ...payload, sessionId: 'no-such-session' });
    assert.equal(theirs.error?.code, 'SESSION_NOT_FOUND', event);
    assert.equal(strip(theirs, sessionId), strip(missing, 'no-such-session'), event);
  }
  for (const event of ['list-terminals', 'create-terminal', 'join-workspace', 'get-workspace-status', 'delete-workspace']) {
    const theirs = await call(b, event, { workspaceId: ALICE_WS });
    const missing = await call(b, event, { workspaceId: 'no-such-workspace' });
    assert.equal(theirs.error?.code, 'WORKSPACE_NOT_FOUND', event);
    assert.equal(strip(theirs, ALICE_WS), strip(missing, 'no-such-workspace'), event);
  }
  // REST agrees.
  for (const ws of [ALICE_WS, 'no-such-workspace']) {
    const res = await fetch(`${process.env.CODETERM_URL}/api/workspaces/${ws}/terminals`, {
      headers: { Authorization: `Bearer ${BOB}` },
    });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, 'WORKSPACE_NOT_FOUND');
  }
  await call(a, 'kill-terminal', { sessionId });
});
