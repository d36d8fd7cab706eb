// Hardening (issue #13) as a browser sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect, call, waitEvent, createTerminal, ALICE } from './helpers.mjs';

test("a read-only viewer's input and resizes are refused with READ_ONLY", async (t) => {
  const owner = await connect(ALICE);
  const viewer = await connect(ALICE);
  t.after(() => { owner.close(); viewer.close(); });
  const { sessionId } = await createTerminal(owner);
  assert.equal((await call(viewer, 'attach-terminal', { sessionId, readOnly: true })).ok, true);
  const err = waitEvent(viewer, 'terminal-error', (e) => e.code === 'READ_ONLY');
  const input = await call(viewer, 'terminal-input', { sessionId, data: 'echo hi\r' });
  assert.equal(input.ok, false);
  assert.equal(input.error.code, 'READ_ONLY');
  assert.equal((await err).sessionId, sessionId);
  const resize = await call(viewer, 'terminal-resize', { sessionId, cols: 100, rows: 30 });
  assert.equal(resize.error?.code, 'READ_ONLY');
  assert.equal((await call(owner, 'terminal-input', { sessionId, data: 'true\r' })).ok, true);
  assert.equal((await call(owner, 'kill-terminal', { sessionId })).ok, true);
});

test('session-status comes once per change, before the ack of the event that made it', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const statuses = [];
  a.on('session-status', (s) => statuses.push(s));
  const ws = (await call(a, 'create-workspace', { name: 'e2e-status' })).workspace?.id;
  assert.ok(ws);
  assert.equal((await call(a, 'join-workspace', { workspaceId: ws })).ok, true);
  const { sessionId } = await createTerminal(a, ws);
  const mine = (pred) => statuses.filter((s) => s.sessionId === sessionId && pred(s)).length;
  assert.equal(mine((s) => s.status === 'active' && s.name === ''), 1, JSON.stringify(statuses));
  assert.equal((await call(a, 'rename-terminal', { sessionId, name: 'renamed' })).ok, true);
  assert.equal(mine((s) => s.name === 'renamed'), 1, JSON.stringify(statuses));
  // Nothing repeats later either: the end is reported once, and by then
  // any late copy of the earlier changes would have come.
  const ended = waitEvent(a, 'session-status', (s) => s.sessionId === sessionId && s.status === 'terminated');
  assert.equal((await call(a, 'kill-terminal', { sessionId })).ok, true);
  await ended;
  assert.equal(mine((s) => s.status === 'active' && s.name === ''), 1, JSON.stringify(statuses));
  assert.equal(mine((s) => s.name === 'renamed' && s.status !== 'terminated'), 1, JSON.stringify(statuses));
  assert.equal((await call(a, 'delete-workspace', { workspaceId: ws })).ok, true);
  assert.equal(mine((s) => s.status === 'terminated'), 1, JSON.stringify(statuses));
});

test('delete-workspace {deleteFiles: false} keeps the files', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const created = await call(a, 'create-workspace', { name: 'e2e-keep' });
  assert.equal(created.ok, true, JSON.stringify(created));
  const { id, localPath } = created.workspace;
  const deleted = waitEvent(a, 'workspace-deleted', (d) => d.workspaceId === id);
  assert.equal((await call(a, 'delete-workspace', { workspaceId: id, deleteFiles: false })).ok, true);
  assert.deepEqual(await deleted, { workspaceId: id, success: true });
  assert.ok(existsSync(`${localPath}/.git`), 'the checkout is still there');
  const status = await call(a, 'get-workspace-status', { workspaceId: id });
  assert.equal(status.error?.code, 'WORKSPACE_NOT_FOUND');
});
