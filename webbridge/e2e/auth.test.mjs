import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, connectError, control, waitEvent, env, ALICE, call, URL } from './helpers.mjs';

test('a valid token connects', async () => {
  const s = await connect(ALICE);
  assert.ok(s.connected);
  s.close();
});

test('bad, expired, wrongly signed and revoked tokens are refused alike', async () => {
  for (const [name, auth] of [
    ['no token', {}],
    ['malformed', { token: 'not-a-jwt' }],
    ['expired', { token: env('EXPIRED_TOKEN') }],
    ['wrong signature', { token: env('BADSIG_TOKEN') }],
    ['revoked', { token: env('REVOKED_TOKEN') }],
    ['tampered', { token: ALICE.slice(0, -2) + 'xx' }],
  ]) {
    const err = await connectError(auth);
    assert.equal(err.message, 'Authentication failed', name);
  }
});

test('session-expired when the token expires while connected', async () => {
  const { token, expiresAt } = await control('/test/token?user=alice&ttl=3s');
  const s = await connect(token);
  const expired = waitEvent(s, 'session-expired', undefined, 10000);
  const gone = waitEvent(s, 'disconnect', undefined, 10000);
  const ev = await expired;
  assert.equal(typeof ev.message, 'string');
  assert.equal(Date.parse(ev.expiredAt), Date.parse(expiresAt));
  assert.equal(await gone, 'io server disconnect');
});

test('force-logout when the user is revoked in the database', async () => {
  const s = await connect(env('DAVE_TOKEN'));
  assert.equal((await call(s, 'system-stats')).ok, true);
  const logout = waitEvent(s, 'force-logout');
  const gone = waitEvent(s, 'disconnect');
  await control('/test/revoke?user=dave');
  const ev = await logout;
  assert.equal(typeof ev.reason, 'string');
  assert.equal(typeof ev.message, 'string');
  assert.equal(await gone, 'io server disconnect');
  // The token no longer connects.
  assert.equal((await connectError({ token: env('DAVE_TOKEN') })).message, 'Authentication failed');
});

test('auth-required when the user is deleted', async () => {
  const s = await connect(env('ERIN_TOKEN'));
  const required = waitEvent(s, 'auth-required');
  const gone = waitEvent(s, 'disconnect');
  await control('/test/delete-user?user=erin');
  await required;
  assert.equal(await gone, 'io server disconnect');
});

test('signing out revokes the token: its sockets get force-logout, it is refused everywhere', async (t) => {
  const { token } = await control('/test/token?user=alice&ttl=1h');
  const a = await connect(token);
  const b = await connect(token, { transports: ['polling'] });
  const other = await connect(ALICE);
  t.after(() => [a, b, other].forEach((s) => s.close()));
  const logouts = [a, b].map((s) => waitEvent(s, 'force-logout'));
  const gone = [a, b].map((s) => waitEvent(s, 'disconnect'));
  const res = await fetch(`${URL}/api/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  for (const ev of await Promise.all(logouts)) assert.equal(ev.reason, 'logout');
  assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
  assert.equal((await connectError({ token })).message, 'Authentication failed');
  const rest = await fetch(`${URL}/api/workspaces`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(rest.status, 401);
  // Another token of the same user is untouched.
  assert.equal((await call(other, 'system-stats')).ok, true);
});
