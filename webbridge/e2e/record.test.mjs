import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, waitEvent, Output, createTerminal, env, URL, ALICE, BOB } from './helpers.mjs';

// frank is nobody's guest (dave and erin are revoked and deleted by auth.test.mjs).
const FRANK = env('FRANK_TOKEN');

function get(token, path) {
  return fetch(URL + path, { headers: { Authorization: `Bearer ${token}` } });
}

// parseCast checks asciicast v2 (a header, then [time, code, data] events
// in time order) and returns the output joined.
function parseCast(text) {
  const lines = text.trimEnd().split('\n');
  const hdr = JSON.parse(lines[0]);
  assert.equal(hdr.version, 2);
  assert.ok(hdr.width > 0 && hdr.height > 0 && hdr.timestamp > 0, lines[0]);
  let last = 0;
  let out = '';
  for (const l of lines.slice(1)) {
    const ev = JSON.parse(l);
    assert.equal(ev.length, 3, l);
    assert.equal(typeof ev[0], 'number');
    assert.ok(ev[0] >= last, `time goes back: ${l}`);
    last = ev[0];
    assert.ok(['o', 'i', 'r'].includes(ev[1]), l);
    assert.equal(ev[1], ev[1] === 'i' ? 'never' : ev[1], 'no input markers unless record_input');
    if (ev[1] === 'o') out += ev[2];
  }
  return out;
}

test('recording: switched on by the owner, a badge for everyone, replayed by invited users only', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const b = await connect(BOB);
  t.after(() => b.close());
  const d = await connect(FRANK);
  t.after(() => d.close());
  const { sessionId } = await createTerminal(a);
  const out = new Output(a, sessionId);

  assert.equal((await call(b, 'record-session', { sessionId, on: true })).error.code, 'SESSION_NOT_FOUND');
  assert.equal((await call(a, 'record-session', { sessionId })).error.code, 'INVALID_PAYLOAD');
  assert.equal((await call(a, 'share-session', { sessionId, user: 'bob', role: 'viewer' })).ok, true);
  assert.equal((await call(b, 'attach-terminal', { sessionId })).recording, false);
  // A guest cannot switch recording either.
  assert.equal((await call(b, 'record-session', { sessionId, on: true })).error.code, 'SESSION_NOT_FOUND');

  const badgeA = waitEvent(a, 'session-status', (s) => s.sessionId === sessionId && s.recording === true);
  const badgeB = waitEvent(b, 'session-status', (s) => s.sessionId === sessionId && s.recording === true);
  const on = await call(a, 'record-session', { sessionId, on: true });
  assert.deepEqual(on, { ok: true, sessionId, recording: true });
  await badgeA;
  await badgeB;

  await call(a, 'terminal-input', { sessionId, data: 'echo rec-$((6*7))\r' });
  await out.waitFor('rec-42');
  const exited = waitEvent(a, 'process-exit', (x) => x.sessionId === sessionId);
  await call(a, 'terminal-input', { sessionId, data: 'exit\r' });
  await exited;

  // Served to the owner and the invited user after the end; frank gets what
  // a missing id gets.
  for (const token of [ALICE, BOB]) {
    const res = await get(token, `/api/sessions/${sessionId}/recording`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-asciicast');
    const cast = parseCast(await res.text());
    assert.match(cast, /rec-42/);
  }
  const denied = await get(FRANK, `/api/sessions/${sessionId}/recording`);
  const missing = await get(FRANK, '/api/sessions/no-such-session/recording');
  assert.equal(denied.status, 404);
  assert.deepEqual(await denied.json(), await missing.json());
  assert.equal((await get(BOB, '/api/sessions/no-such-session/recording')).status, 404);
});
