// Signing in with one-time login links.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
