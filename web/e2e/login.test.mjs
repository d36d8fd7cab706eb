// Signing in with one-time login links.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BASE_URL, launch, loginLink, watchErrors } from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a bad login link is refused with a clear message', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${BASE_URL}/login?code=not-a-real-code`);
  await page.getByText(/invalid, already used or expired/).waitFor({ timeout: 10_000 });
  assert.equal(new URL(page.url()).search, '', 'the code is taken out of the address bar');
  assert.equal(await page.evaluate(() => localStorage.getItem('jwt_token')), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a login link signs in once, and a used link is refused', async () => {
  const link = loginLink();
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(link);
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 15_000 });
  assert.equal(new URL(page.url()).pathname, '/');
  assert.ok(await page.evaluate(() => localStorage.getItem('jwt_token')), 'the token is kept as jwt_token');
  await page.getByRole('link', { name: 'demo', exact: true }).waitFor();
  await page.locator('.conn.connected').waitFor({ timeout: 10_000 });

  // The same link in another browser profile: already used.
  const other = await browser.newContext();
  const page2 = await other.newPage();
  await page2.goto(link);
  await page2.getByText(/invalid, already used or expired/).waitFor({ timeout: 10_000 });
  assert.equal(await page2.evaluate(() => localStorage.getItem('jwt_token')), null);

  // Signing out forgets the token and shows the sign-in page.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/login');
  assert.equal(await page.evaluate(() => localStorage.getItem('jwt_token')), null);
  assert.deepEqual(errors, []);
  await other.close();
  await context.close();
});

test('a deep link survives the trip through the login page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${BASE_URL}/w/demo`);
  await page.waitForURL((u) => u.pathname === '/login');
  await page.getByLabel('Login link or code').fill(loginLink());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/w/demo'), { timeout: 15_000 });
  await page.waitForFunction(() => window.__codeterm?.focusedSession(), null, { timeout: 20_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('a forged token sends the browser to the login page', async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    if (!sessionStorage.getItem('seeded')) {
      sessionStorage.setItem('seeded', '1');
      localStorage.setItem('jwt_token', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad');
    }
  });
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/`);
  await page.waitForURL((u) => u.pathname === '/login', { timeout: 15_000 });
  assert.equal(await page.evaluate(() => localStorage.getItem('jwt_token')), null);
  await context.close();
});

/** A login link for another account, made with the CLI like the owner's. */
function linkFor(name) {
  const cli = (...args) =>
    execFileSync(process.env.CODETERM_BIN, [...args, '--data', process.env.CODETERM_DATA], {
      env: { ...process.env, HOME: process.env.CODETERM_HOME || process.env.HOME },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  try {
    cli('user', 'add', name);
  } catch {
    /* added by an earlier test */
  }
  const code = new URL(cli('login-link', name).trim().split('\n').pop()).searchParams.get('code');
  return `${BASE_URL}/login?code=${encodeURIComponent(code)}`;
}

/** Waits until the server refuses a token (revocation is sent in the
 * background, and reaches the server a moment later). */
async function waitRevoked(page, token) {
  const status = () => page.evaluate(async (t) => (await fetch('/api/workspaces', { headers: { Authorization: `Bearer ${t}` } })).status, token);
  const deadline = Date.now() + 10_000;
  let last;
  while ((last = await status()) !== 401) {
    assert.ok(Date.now() < deadline, `the token still works (${last}) 10 s later`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a login link for another account asks before switching (login CSRF)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(loginLink());
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 15_000 });
  const mine = await page.evaluate(() => localStorage.getItem('jwt_token'));

  // Someone else's link: the page asks, and Cancel keeps the account.
  await page.goto(linkFor('mallory'));
  const dialog = page.getByRole('dialog', { name: 'Switch account?' });
  await dialog.waitFor({ timeout: 10_000 });
  await dialog.getByText(/This login link signs you in as “mallory”/).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => localStorage.getItem('jwt_token')), mine, 'still the same token');
  await page.getByRole('link', { name: 'demo', exact: true }).waitFor();

  // Switching on purpose signs the old token out on the server.
  await page.goto(linkFor('mallory'));
  await dialog.waitFor({ timeout: 10_000 });
  await dialog.getByRole('button', { name: 'Switch to mallory' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 10_000 });
  const theirs = await page.evaluate(() => localStorage.getItem('jwt_token'));
  assert.notEqual(theirs, mine);
  await waitRevoked(page, mine);

  // A second link for the same account switches without asking.
  await page.goto(linkFor('mallory'));
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByRole('dialog').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('signing out revokes the token on the server', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(loginLink());
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 15_000 });
  const token = await page.evaluate(() => localStorage.getItem('jwt_token'));
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/login');
  await waitRevoked(page, token);
  assert.deepEqual(errors, []);
  await context.close();
});
