import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, connectError, control, waitEvent, env, ALICE, call } from './helpers.mjs';

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
