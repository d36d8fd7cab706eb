// The server upgrading in place (codeterm reload): the page says so briefly,
// reconnects by itself and the terminal carries on in the same shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BASE_URL, launch, login, terminalText, typeInTerminal, waitForSession, waitForText } from './helpers.mjs';

test('a restart in place is a brief notice, and the terminal carries on', async () => {
  const bin = process.env.CODETERM_BIN;
  const data = process.env.CODETERM_DATA;
  assert.ok(bin && data, 'CODETERM_BIN and CODETERM_DATA name the server under test');
  const browser = await launch();
  try {
    const { page, errors } = await login(browser, { viewport: { width: 1100, height: 700 } });
    await page.goto(`${BASE_URL}/w/demo`);
    const sessionId = await waitForSession(page);
    await typeInTerminal(page, 'RESTARTVAR=kept; clear; echo "before-$((6*7))"\n');
    await waitForText(page, /^before-42$/m);

    execFileSync(bin, ['reload', '--data', data]);
    const notice = page.locator('.toast[role="status"]', { hasText: 'Server restarted' });
    await notice.waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => window.__codeterm.connection() === 'connected', null, { timeout: 20_000 });
    assert.equal(await page.locator('.toast-error').count(), 0, 'no error toast');
    assert.equal(await page.evaluate(() => window.__codeterm.focusedSession()), sessionId, 'the same session');

    await typeInTerminal(page, 'echo "after-$RESTARTVAR"\n');
    await waitForText(page, /^after-kept$/m);
    const text = await terminalText(page);
    assert.equal(text.split('\n').filter((l) => l === 'before-42').length, 1, `shown once after the restart:\n${text}`);
    await notice.waitFor({ state: 'detached', timeout: 15_000 });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
