// reach.mjs: headless Chromium signs in with a login link and waits for the
// page's Socket.IO connection, for the deployment tests (TLS, reverse
// proxies) in cmd/server. Not part of the node --test suite.
//   LINK      a one-time login link on the address under test
//   CHROMIUM  the browser (default /usr/bin/chromium)
import { chromium } from 'playwright-core';
// helpers.mjs wants BASE_URL: the deployment tests set it to the link's origin.
import { CHROMIUM_ARGS } from './helpers.mjs';

const { LINK } = process.env;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // The tests' certificates are self-signed.
  args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'],
  headless: true,
});
const errors = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(LINK);
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor({ timeout: 20_000 });
  await page.getByRole('link', { name: 'demo', exact: true }).waitFor({ timeout: 20_000 });
  await page.locator('.conn.connected').waitFor({ timeout: 20_000 });
  const origin = await page.evaluate(() => location.origin);
  if (errors.length) throw new Error(errors.join('\n'));
  console.log(`reach: page connected at ${origin}`);
} catch (err) {
  console.error(`reach: ${err.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
