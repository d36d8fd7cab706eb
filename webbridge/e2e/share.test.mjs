import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, waitEvent, Output, createTerminal, control, env, URL, ALICE, BOB, ALICE_WS } from './helpers.mjs';

// frank is nobody's guest (dave and erin are revoked and deleted by auth.test.mjs).
const FRANK = env('FRANK_TOKEN');

// guestAttach attaches a guest's socket and resolves with the ack.
async function guestAttach(socket, sessionId) {
  const ack = await call(socket, 'attach-terminal', { sessionId, cols: 80, rows: 24 });
  if (!ack.ok) throw new Error(`attach-terminal: ${JSON.stringify(ack)}`);
  return ack;
}

test('sharing: viewer, editor, unshare, and an uninvited user', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const b = await connect(BOB);
  t.after(() => b.close());
  const d = await connect(FRANK);
  t.after(() => d.close());

  const { sessionId } = await createTerminal(a);
  const aliceOut = new Output(a, sessionId);

  // Before the invitation bob is told what a missing id tells.
  const missing = await call(b, 'attach-terminal', { sessionId: 'no-such-session' });
  const early = await call(b, 'attach-terminal', { sessionId });
  assert.equal(early.error.code, 'SESSION_NOT_FOUND');
  assert.equal(early.error.message, missing.error.message);

  // Invitation as viewer: bob hears of it and sees it in Shared with me.
  const shared = waitEvent(b, 'session-shared', (s) => s.sessionId === sessionId);
  const shareAck = await call(a, 'share-session', { sessionId, user: 'bob', role: 'viewer' });
  assert.equal(shareAck.ok, true, JSON.stringify(shareAck));
  assert.deepEqual(shareAck.share, { sessionId, user: 'bob', role: 'viewer' });
  const ev = await shared;
  assert.equal(ev.owner, 'alice');
  assert.equal(ev.role, 'viewer');
  const rest = await (await fetch(`${URL}/api/shared`, { headers: { Authorization: `Bearer ${BOB}` } })).json();
  assert.deepEqual(rest.sessions.map((s) => [s.sessionId, s.owner, s.role]), [[sessionId, 'alice', 'viewer']]);
  const listed = await call(a, 'list-shares', { sessionId });
  assert.deepEqual(listed.shares, [{ sessionId, user: "bob", role: "viewer" }], JSON.stringify(listed));

  // bob attaches as viewer and receives the output; everyone sees who is there.
  const withBob = waitEvent(a, 'session-status', (s) => s.sessionId === sessionId &&
    s.users.some((u) => u.user === 'bob' && u.role === 'viewer' && u.via === 'browser'));
  const bobOut = new Output(b, sessionId);
  const ack = await guestAttach(b, sessionId);
  assert.equal(ack.role, 'viewer');
  const st = await withBob;
  assert.deepEqual(st.users, [{ user: 'alice', role: 'owner', via: 'browser' }, { user: 'bob', role: 'viewer', via: 'browser' }]);
  await call(a, 'terminal-input', { sessionId, data: 'echo from-alice-$((40+2))\r' });
  await bobOut.waitFor('from-alice-42');

  // A viewer's input and resize are refused.
  const typed = await call(b, 'terminal-input', { sessionId, data: 'echo bob-typed\r' });
  assert.equal(typed.error.code, 'READ_ONLY');
  const resized = await call(b, 'terminal-resize', { sessionId, cols: 100, rows: 30 });
  assert.equal(resized.error.code, 'READ_ONLY');

  // A guest cannot share further, kill, nor see the owner's workspace.
  assert.equal((await call(b, 'share-session', { sessionId, user: 'frank', role: 'viewer' })).error.code, 'SESSION_NOT_FOUND');
  assert.equal((await call(b, 'kill-terminal', { sessionId })).error.code, 'SESSION_NOT_FOUND');
  assert.equal((await call(b, 'list-terminals', { workspaceId: ALICE_WS })).error.code, 'WORKSPACE_NOT_FOUND');

  // frank, not invited, gets exactly what a missing id gets.
  const frankMissing = await call(d, 'attach-terminal', { sessionId: 'no-such-session' });
  const frankAttach = await call(d, 'attach-terminal', { sessionId });
  assert.equal(frankAttach.error.code, 'SESSION_NOT_FOUND');
  assert.equal(frankAttach.error.message, frankMissing.error.message);
  assert.equal(frankAttach.error.details.replace(sessionId, 'ID'), frankMissing.error.details.replace('no-such-session', 'ID'));
  const frankInput = await call(d, 'terminal-input', { sessionId, data: 'x' });
  assert.equal(frankInput.error.code, 'SESSION_NOT_FOUND');

  // Upgraded to editor: bob is detached, attaches again, and types into
  // alice's shell.
  let detached = waitEvent(b, 'terminal-detached', (x) => x.sessionId === sessionId);
  assert.equal((await call(a, 'share-session', { sessionId, user: 'bob', role: 'editor' })).ok, true);
  await detached;
  const again = await guestAttach(b, sessionId);
  assert.equal(again.role, 'editor');
  assert.equal((await call(b, 'terminal-input', { sessionId, data: 'echo bob-$((6*7))\r' })).ok, true);
  await aliceOut.waitFor('bob-42');

  // Unshared: bob is detached at once, and can no longer attach.
  detached = waitEvent(b, 'terminal-detached', (x) => x.sessionId === sessionId, 2000);
  const unshared = waitEvent(b, 'session-unshared', (x) => x.sessionId === sessionId);
  assert.equal((await call(a, 'unshare-session', { sessionId, user: 'bob' })).ok, true);
  await detached;
  await unshared;
  assert.equal((await call(b, 'attach-terminal', { sessionId })).error.code, 'SESSION_NOT_FOUND');
  assert.equal((await call(b, 'terminal-input', { sessionId, data: 'x' })).error.code, 'SESSION_NOT_FOUND');
  const after = await (await fetch(`${URL}/api/shared`, { headers: { Authorization: `Bearer ${BOB}` } })).json();
  assert.deepEqual(after.sessions, []);

  // Unshared by another process (the CLI writes the database): detached
  // at the server's next check, within 2 s.
  assert.equal((await call(a, 'share-session', { sessionId, user: 'bob', role: 'editor' })).ok, true);
  await guestAttach(b, sessionId);
  detached = waitEvent(b, 'terminal-detached', (x) => x.sessionId === sessionId, 2000);
  await control(`/test/unshare?user=bob&session=${sessionId}`);
  await detached;

  // The owner ends the session: a guest gets the exit.
  assert.equal((await call(a, 'share-session', { sessionId, user: 'bob', role: 'viewer' })).ok, true);
  await guestAttach(b, sessionId);
  const exited = waitEvent(b, 'process-exit', (x) => x.sessionId === sessionId, 2000);
  assert.equal((await call(a, 'kill-terminal', { sessionId })).ok, true);
  await exited;
});
