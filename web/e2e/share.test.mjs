// Sharing: the owner's session, started over SSH, shared with bob by the
// CLI; bob watches it in the browser at /s/<id>, cannot type, sees the
// recording badge, is detached when the owner unshares, and replays the
// recording at /r/<id> (screenshots of both, into docs/screenshots/ with
// UPDATE_SCREENSHOTS=1, otherwise into a temporary directory).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { BASE_URL, launch, watchErrors, waitForText } from './helpers.mjs';

const bin = process.env.CODETERM_BIN;
const data = process.env.CODETERM_DATA;
const owner = process.env.CODETERM_USER;
// A test run leaves the tracked screenshots alone unless asked.
const shots = process.env.UPDATE_SCREENSHOTS
  ? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots')
  : mkdtempSync(join(tmpdir(), 'codeterm-shots-'));
if (!process.env.UPDATE_SCREENSHOTS) after(() => rmSync(shots, { recursive: true, force: true }));

function cli(...args) {
  return execFileSync(bin, [...args, '--data', data], {
    env: { ...process.env, HOME: process.env.CODETERM_HOME || process.env.HOME },
    encoding: 'utf8',
  });
}

function printed(child, s, ms = 15_000) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`did not print ${s}; it printed:\n${out}`)), ms);
    const onData = (d) => {
      out += d;
      if (out.includes(s)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
  });
}

async function api(token, path) {
  const res = await fetch(BASE_URL + path, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, path);
  return res.json();
}

let browser;
after(async () => {
  await browser?.close();
});

test('a session shared with bob: watched in the browser, read-only, then unshared', async () => {
  cli('user', 'add', 'bob');
  const ssh = spawn(
    'ssh',
    ['-tt', '-p', process.env.SSH_PORT, '-i', process.env.SSH_KEY, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `${owner}@127.0.0.1`, 'demo'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  after(() => ssh.kill());
  const ready = printed(ssh, 'owner-42');
  ssh.stdin.write('echo "owner-$((6*7))"\r');
  await ready;

  const token = cli('token', owner).trim();
  const { workspaces } = await api(token, '/api/workspaces');
  const demo = workspaces.find((w) => w.name === 'demo');
  const { terminals } = await api(token, `/api/workspaces/${demo.id}/terminals`);
  const sessionId = terminals[0].sessionId;

  assert.match(cli('share', sessionId, 'bob', '--role', 'viewer'), /shared session .* with bob as viewer/);

  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const link = cli('login-link', 'bob').trim().split('\n').pop();
  await page.goto(`${BASE_URL}/login?code=${encodeURIComponent(new URL(link).searchParams.get('code'))}`);
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 15_000 });

  // The invitation is listed under Shared with me, and leads to /s/<id>.
  const item = page.locator(`.shared-with-me [data-session="${sessionId}"]`);
  await item.waitFor({ timeout: 15_000 });
  await item.getByRole('link').click();
  await page.waitForURL((u) => u.pathname === `/s/${sessionId}`);
  await waitForText(page, 'owner-42');
  await page.locator('.shared-bar [data-role="viewer"]').waitFor();
  await page.locator(`.shared-person[data-user="bob"]`).waitFor();
  await page.locator(`.shared-person[data-user="${owner}"]`).waitFor();

  // The owner's new output arrives; bob's keys are refused.
  ssh.stdin.write('echo "live-$((7*6))"\r');
  await waitForText(page, 'live-42');
  await page.locator('.shared-term .xterm-helper-textarea').focus();
  await page.keyboard.type('echo bob\n', { delay: 5 });
  await page.getByText('This terminal is read-only').first().waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(shots, 'shared-viewer.png') });

  // The owner records: bob sees the badge.
  const sock = io(BASE_URL, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  after(() => sock.close());
  const rec = await sock.timeout(15_000).emitWithAck('record-session', { sessionId, on: true });
  assert.equal(rec.ok, true, JSON.stringify(rec));
  await page.locator('.rec-badge:not([hidden])').waitFor({ timeout: 15_000 });
  ssh.stdin.write('echo "recorded-$((5*5))"\r');
  await waitForText(page, 'recorded-25');

  cli('unshare', sessionId, 'bob');
  await waitForText(page, 'no longer', { timeout: 5_000 });

  // Shared again, the session ends; bob replays its recording at /r/<id>.
  cli('share', sessionId, 'bob', '--role', 'viewer');
  const ended = new Promise((resolve) => ssh.on('exit', resolve));
  ssh.stdin.write('exit\r');
  await ended;
  await page.goto(`${BASE_URL}/r/${sessionId}`);
  await page.locator('.replay[data-ready="true"]').waitFor({ timeout: 15_000 });
  await page.selectOption('.replay-speed', '8');
  await page.waitForFunction(() => window.__codeterm.replayPlayer()?.getDuration() > 0, null, { timeout: 15_000, polling: 100 });
  await page.evaluate(() => window.__codeterm.replayPlayer().seek(window.__codeterm.replayPlayer().getDuration() - 0.01));
  await page.waitForFunction(() => /recorded-25/.test(document.querySelector('.replay-stage')?.textContent ?? ''), null, { timeout: 15_000, polling: 100 });
  await page.screenshot({ path: join(shots, 'replay.png') });
  assert.deepEqual(errors, []);
});

test('the owner shares from the workbench: invite as editor, record, remove', async () => {
  browser ??= await launch();
  const { loginLink } = await import('./helpers.mjs');
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(loginLink());
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 15_000 });
  await page.goto(`${BASE_URL}/w/demo`);
  await page.waitForFunction(() => window.__codeterm?.focusedSession(), null, { timeout: 20_000, polling: 100 });
  await page.getByRole('button', { name: 'Share' }).click();
  const dlg = page.getByRole('dialog', { name: 'Share this session' });
  await dlg.getByLabel('User', { exact: true }).fill('bob');
  await dlg.getByLabel('Role').selectOption('editor');
  await dlg.getByText('runs as your account').waitFor();
  await dlg.getByRole('button', { name: 'Invite' }).click();
  await dlg.locator('.share-list li[data-user="bob"]').getByText('editor').waitFor({ timeout: 15_000 });
  await dlg.getByLabel('Record this session').check();
  await page.locator('.topbar .rec-badge:not([hidden])').waitFor({ timeout: 15_000 });
  await dlg.locator('.share-list li[data-user="bob"]').getByRole('button', { name: 'Remove' }).click();
  await dlg.locator('.share-list li[data-user="bob"]').waitFor({ state: 'detached', timeout: 15_000 });
  assert.deepEqual(errors, []);
  await context.close();
});
