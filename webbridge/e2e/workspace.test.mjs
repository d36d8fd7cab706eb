import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, waitEvent, Output, createTerminal, ALICE } from './helpers.mjs';

test('workspace events: create, join, file-changed, status, sync, delete', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());

  // An empty workspace from a name alone.
  const created = waitEvent(a, 'workspace-created');
  const ack = await call(a, 'create-workspace', { name: 'e2e-fresh' });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const { workspace } = await created;
  assert.equal(workspace.name, 'e2e-fresh');
  assert.ok(workspace.id && workspace.localPath);
  assert.equal(workspace.githubRepo, '');
  const id = workspace.id;

  for (const [payload, code] of [
    [{ name: 'e2e-fresh' }, 'WORKSPACE_EXISTS'],
    [{ name: '../escape' }, 'INVALID_NAME'],
  ]) {
    const err = waitEvent(a, 'workspace-error', (e) => e.code === code);
    const bad = await call(a, 'create-workspace', payload);
    assert.equal(bad.error?.code, code);
    const ev = await err;
    assert.equal(ev.operation, 'create');
    assert.ok(ev.message && ev.timestamp);
  }

  // A clone that fails reports through workspace-error.
  const cloneErr = waitEvent(a, 'workspace-error', (e) => e.operation === 'clone');
  const clone = await call(a, 'create-workspace', { name: 'e2e-clone', githubUrl: 'https://127.0.0.1:1/nobody/nothing.git' });
  assert.equal(clone.ok, false);
  assert.equal(clone.error.code, 'GIT_CLONE_FAILED');
  assert.equal((await cloneErr).code, 'GIT_CLONE_FAILED');

  // join-workspace starts the watcher and status pushes.
  const firstStatus = waitEvent(a, 'workspace-status', (s) => s.workspaceId === id);
  const joined = waitEvent(a, 'joined-workspace');
  assert.equal((await call(a, 'join-workspace', { workspaceId: id })).ok, true);
  assert.deepEqual(await joined, { workspaceId: id, room: `workspace_${id}` });
  const st0 = await firstStatus;
  assert.equal(st0.git.branch, 'main');
  assert.equal(st0.git.untracked, 0);
  assert.deepEqual(st0.processes, []);

  // A terminal in it; a new file is seen by the watcher and git status.
  const started = waitEvent(a, 'session-status', (s) => s.workspaceId === id);
  const { sessionId } = await createTerminal(a, id);
  await started;
  const out = new Output(a, sessionId);
  const changed = waitEvent(a, 'file-changed', (f) => f.path === 'hello.txt');
  const dirty = waitEvent(a, 'workspace-status', (s) => s.workspaceId === id && s.git.untracked === 1);
  await call(a, 'terminal-input', { sessionId, data: 'echo hi > hello.txt; sleep 30\r' });
  const fc = await changed;
  assert.equal(fc.workspaceId, id);
  assert.ok(['created', 'modified'].includes(fc.type));
  assert.ok(fc.timestamp);
  await dirty;

  // get-workspace-status lists the running command.
  const status = waitEvent(a, 'workspace-status', (s) => s.processes.some((p) => p.command.includes('sleep')));
  const statusAck = await call(a, 'get-workspace-status', { workspaceId: id });
  assert.equal(statusAck.ok, true);
  const st = await status;
  const proc = st.processes.find((p) => p.command.includes('sleep'));
  assert.ok(proc.pid > 0);
  assert.equal(proc.status, 'running');
  assert.ok(st.lastActivity);

  // Sync needs a remote; this one has none.
  const syncErr = waitEvent(a, 'workspace-error', (e) => e.operation === 'fetch');
  const sync = await call(a, 'sync-workspace', { workspaceId: id, operation: 'fetch' });
  assert.equal(sync.ok, false);
  assert.equal((await syncErr).workspaceId, id);

  // GitHub is not configured on the test server.
  assert.equal((await call(a, 'get-repositories', { page: 1 })).error.code, 'GITHUB_NOT_CONFIGURED');
  assert.equal((await call(a, 'clone-workspace', { repositoryId: 1 })).error.code, 'GITHUB_NOT_CONFIGURED');
  assert.equal((await call(a, 'repository-selected', { repositoryId: 1, action: 'view-details' })).ok, true);

  // Deleting it ends its sessions.
  const deleted = waitEvent(a, 'workspace-deleted');
  const exited = waitEvent(a, 'process-exit', (x) => x.sessionId === sessionId);
  assert.equal((await call(a, 'delete-workspace', { workspaceId: id })).ok, true);
  assert.deepEqual(await deleted, { workspaceId: id, success: true });
  await exited;
  out.stop();
});

test('system-stats and health-status', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const health = waitEvent(a, 'health-status');
  const statsEv = waitEvent(a, 'system-stats');
  const ack = await call(a, 'system-stats');
  assert.equal(ack.ok, true);
  const st = await statsEv;
  assert.equal(typeof st.memory.used, 'string');
  assert.equal(typeof st.memory.total, 'string');
  assert.equal(typeof st.memory.percentage, 'number');
  assert.equal(typeof st.cpu.usage, 'number');
  assert.ok(st.activeConnections >= 1);
  assert.equal(typeof st.activeSessions, 'number');
  assert.equal(typeof st.uptime, 'number');
  const h = await health;
  assert.equal(h.status, 'healthy');
  assert.deepEqual(Object.keys(h.services).sort(), ['database', 'file_system', 'github_api']);
  assert.ok(h.timestamp);
});
