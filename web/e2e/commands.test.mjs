// Command tracking in the page: finished commands get a green or red mark
// in the terminal's gutter, and a long command that finishes while nobody
// looks at a page raises a system notification there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, login, typeInTerminal, waitForSession, waitForText } from './helpers.mjs';

let browser;
after(async () => {
  await browser?.close();
});

async function waitMarks(page, n, sessionId) {
  const h = await page.waitForFunction(
    ([n, id]) => {
      const m = window.__codeterm?.commandMarks(id) ?? [];
      return m.length >= n && m;
    },
    [n, sessionId],
    { timeout: 20_000, polling: 100 },
  );
  return h.jsonValue();
}

test('finished commands are marked; a long one notifies a page nobody looks at', async () => {
  browser = await launch();
  const { context, page: watcher, errors } = await login(browser, { viewport: { width: 1000, height: 700 } });
  await context.grantPermissions(['notifications'], { origin: BASE_URL });
  // Record the system notifications the pages make.
  await context.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    window.Notification = class extends Real {
      constructor(title, opts) {
        super(title, opts);
        window.__notes.push(title);
      }
    };
  });
  // The watcher's window never has the focus (Playwright pretends every
  // page has it unless told not to); headless Chromium shows every tab, so
  // the page's test is "visible and focused".
  await watcher.goto(`${BASE_URL}/w/demo`);
  const sessionId = await waitForSession(watcher);
  const cdp = await context.newCDPSession(watcher);
  await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: false });

  // A page without the permission to notify, also looked at by nobody.
  const plain = await browser.newContext({ storageState: await context.storageState() });
  const quiet = await plain.newPage();
  await quiet.goto(`${BASE_URL}/w/demo/${sessionId}`);
  await waitForSession(quiet);
  await (await plain.newCDPSession(quiet)).send('Emulation.setFocusEmulationEnabled', { enabled: false });
  await (await plain.newPage()).bringToFront(); // its window's other tab

  // Someone works in the same session from another page.
  const worker = await context.newPage();
  await worker.bringToFront();
  await worker.goto(`${BASE_URL}/w/demo/${sessionId}`);
  await waitForText(worker, /[#$] ?$/m);
  const before = (await waitMarks(worker, 0, sessionId)).length;
  await typeInTerminal(worker, 'true\n');
  await waitMarks(worker, before + 1, sessionId);
  await typeInTerminal(worker, 'false\n');
  const marks = await waitMarks(worker, before + 2, sessionId);
  assert.deepEqual(marks.slice(-2).map((m) => m.exitCode), [0, 1]);
  assert.ok(marks.at(-1).line > marks.at(-2).line, `marks on successive lines: ${JSON.stringify(marks)}`);
  await worker.locator('.cmd-mark.cmd-fail').first().waitFor({ timeout: 10_000 });
  await worker.locator('.cmd-mark.cmd-ok').first().waitFor({ timeout: 10_000 });
  // The other page marks them too.
  assert.deepEqual((await waitMarks(watcher, before + 2, sessionId)).slice(-2).map((m) => m.exitCode), [0, 1]);

  // A short command says nothing; a long one (over 10 s) notifies where
  // nobody looks, and only there: by the system, else by a toast.
  assert.equal(await watcher.evaluate(() => document.hasFocus()), false);
  assert.equal(await quiet.evaluate(() => document.hasFocus()), false);
  await typeInTerminal(worker, 'sleep 1\n');
  await waitMarks(watcher, before + 3, sessionId);
  await typeInTerminal(worker, 'sleep 11\n');
  await waitMarks(watcher, before + 4, sessionId);
  const notes = await watcher
    .waitForFunction(() => window.__notes?.length && window.__notes, null, { timeout: 10_000 })
    .catch(async (e) => {
      const seen = await watcher.evaluate(() => [Notification.permission, window.__codeterm.notifications(), document.hasFocus()]);
      assert.fail(`no notification (permission, app's notices, focus): ${JSON.stringify(seen)}: ${e}`);
    });
  const shown = await notes.jsonValue();
  assert.equal(shown.length, 1, `one notification: ${JSON.stringify(shown)}`);
  assert.match(shown[0], /^`sleep 11` finished \(exit 0, 1[12]s\)$/);
  assert.deepEqual(await worker.evaluate(() => window.__notes), [], 'the page in use is not notified');
  await quiet.locator('.toast', { hasText: '`sleep 11` finished (exit 0, 1' }).waitFor({ timeout: 10_000 });
  assert.equal(await quiet.locator('.toast', { hasText: '`sleep 1` finished' }).count(), 0);
  await plain.close();
  assert.deepEqual(errors, []);
});
