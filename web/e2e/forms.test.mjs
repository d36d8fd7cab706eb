// terminal-output's two forms show the same screen: a page forced to the
// JSON string form (localStorage codeterm.outputForm = "string") and one in
// the binary form, on one session, after output mixing Latin-1, UTF-8 and
// broken sequences.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, login, terminalText, typeInTerminal, waitForSession, waitForText, watchErrors } from './helpers.mjs';

let browser;
let state;

before(async () => {
  browser = await launch();
  const { context } = await login(browser);
  state = await context.storageState();
  await context.close();
});
after(async () => {
  await browser?.close();
});

async function open(form, path) {
  const context = await browser.newContext({ storageState: state, viewport: { width: 1000, height: 700 } });
  if (form) await context.addInitScript((f) => localStorage.setItem('codeterm.outputForm', f), form);
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${BASE_URL}${path}`);
  const sessionId = await waitForSession(page);
  return { context, page, errors, sessionId };
}

test('the string and the binary form show identical screens', async () => {
  // The workspace "forms" is made by TestBrowserE2E; its primary session is ours.
  const str = await open('string', '/w/forms');
  const bin = await open('binary', `/w/forms/${str.sessionId}`);
  try {
    assert.equal(bin.sessionId, str.sessionId);
    await waitForText(str.page, /[#$] ?$/m);
    // Latin-1 "café naïve", UTF-8 (accents, box drawing, a wide CJK
    // character, an emoji), a truncated 3-byte sequence, a lone
    // continuation byte, an overlong "/", and colours around them.
    await typeInTerminal(
      bin.page,
      "printf 'caf\\351 na\\357ve | caf\\303\\251 \\342\\224\\202 \\344\\270\\255 \\360\\237\\231\\202 | x\\342\\202Ay \\200 \\300\\257 \\033[31mred\\033[0m <<F''1>>\\n'\n",
    );
    const want = /caf\ufffd na\ufffdve \| café │ 中 🙂 \| x\ufffd\ufffdAy \ufffd \ufffd\ufffd red <<F1>>/;
    await waitForText(str.page, want);
    await waitForText(bin.page, want);
    // The line itself, cell for cell (the pages attached at different
    // times, so what came before may differ: a replay, a repaint).
    const line = async (p) => (await terminalText(p.page)).split('\n').filter((l) => l.includes('<<F1>>'));
    assert.deepEqual(await line(bin), await line(str));
    const forms = async (p) => (await p.page.evaluate((id) => window.__codeterm.streamState(id), p.sessionId)).forms;
    const [fs, fb] = [await forms(str), await forms(bin)];
    assert.ok(fs.strings > 0 && fs.bytes === 0, `string page: ${JSON.stringify(fs)}`);
    assert.ok(fb.bytes > 0 && fb.strings === 0, `binary page: ${JSON.stringify(fb)}`);
    assert.deepEqual(str.errors, []);
    assert.deepEqual(bin.errors, []);
  } finally {
    await str.context.close();
    await bin.context.close();
  }
});
