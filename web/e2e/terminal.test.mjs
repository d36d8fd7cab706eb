// The terminal: create a workspace, type, share a session between pages and
// with SSH, survive a reload and a dropped connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BASE_URL, count, launch, login, terminalText, typeInTerminal, waitForSession, waitForText } from './helpers.mjs';

const WS = `e2e-${process.pid}`;
let browser;
let state; // the signed-in storage (the token), shared by every page below
let one; // the first page, on the workspace's primary session
let sessionId;

before(async () => {
  browser = await launch();
  const { context, page, errors } = await login(browser, { viewport: { width: 1200, height: 760 } });
  state = await context.storageState();
  one = { context, page, errors };
});
after(async () => {
  await browser?.close();
});

async function openPage(path, viewport = { width: 1000, height: 700 }) {
  const context = await browser.newContext({ storageState: state, viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${BASE_URL}${path}`);
  return { context, page, errors };
}

test('create a workspace from the UI and get a shell in it', async () => {
  const { page } = one;
  await page.getByRole('button', { name: 'New workspace' }).click();
  const dialog = page.getByRole('dialog', { name: 'New workspace' });
  await dialog.getByLabel('Name').fill(WS);
  await dialog.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL((u) => u.pathname.startsWith(`/w/${WS}`), { timeout: 30_000 });
  sessionId = await waitForSession(page);
  assert.match(new URL(page.url()).pathname, new RegExp(`^/w/${WS}/${sessionId}$`));
  await waitForText(page, /[#$] ?$/m); // a prompt
});

test('typing runs commands and shows their output', async () => {
  const { page } = one;
  await typeInTerminal(page, 'echo "typed-$((6*7))"\n');
  await waitForText(page, 'typed-42');
});

test('the page takes output as bytes and shows bytes that are not UTF-8 as the session screen does', async () => {
  const context = await browser.newContext({ storageState: state, viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  try {
    await page.goto(`${BASE_URL}/w/${WS}/${sessionId}`);
    await waitForText(page, 'typed-42');
    // "café naïve" in Latin-1 (0xE9 and 0xEF alone are not UTF-8), then a
    // truncated 3-byte sequence (E2 82, then "A"). Fed the bytes, xterm.js
    // would drop them all ("caf nave xAy"); a browser's TextDecoder would
    // give one U+FFFD for E2 82. The session's screen on the server shows
    // one U+FFFD per invalid byte, and so must the page, live and after a
    // reload (a repaint of that screen). The marker is split on the
    // command line so that its echo does not match.
    const repaints = (await page.evaluate(() => window.__codeterm.streamState())).repaints;
    await typeInTerminal(page, "printf 'caf\\351 na\\357ve x\\342\\202Ay <<L''1>>\\n' > latin1.txt; cat latin1.txt\n");
    const want = 'caf\ufffd na\ufffdve x\ufffd\ufffdAy <<L1>>';
    await waitForText(page, want);
    // The page asked for the binary form: every chunk came as bytes, and
    // this line came as output, not in a repaint.
    const st = await page.evaluate(() => window.__codeterm.streamState());
    assert.ok(st.forms.bytes > 0 && st.forms.strings === 0, JSON.stringify(st.forms));
    assert.equal(st.repaints, repaints);
    await page.reload();
    await waitForText(page, want);
    assert.equal(count(await terminalText(page), want), 1);
  } finally {
    await context.close();
  }
});

test('a second page on the same session sees the same screen, both ways', async () => {
  const two = await openPage(`/w/${WS}/${sessionId}`);
  try {
    await waitForText(two.page, 'typed-42');
    await typeInTerminal(two.page, 'echo "second-$((7*6))"\n');
    await waitForText(two.page, 'second-42');
    await waitForText(one.page, 'second-42');
    // Both show the viewer count of two.
    await one.page.locator('.tab.selected .viewers', { hasText: '2' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(two.errors, []);
  } finally {
    await two.context.close();
  }
});

test('pages of different sizes draw at the size of whoever typed last', async () => {
  const size = (page) => page.evaluate((id) => window.__codeterm.terminalSize(id), sessionId);
  const sizeBecomes = (page, want) =>
    page.waitForFunction(
      ([id, c, r]) => {
        const s = window.__codeterm.terminalSize(id);
        return s && s.cols === c && s.rows === r;
      },
      [sessionId, want.cols, want.rows],
      { timeout: 15_000, polling: 100 },
    );
  const small = await openPage(`/w/${WS}/${sessionId}`, { width: 640, height: 480 });
  try {
    await waitForText(small.page, 'typed-42');
    // The small page types: the big one draws at the small size.
    await typeInTerminal(small.page, 'stty size; echo "small-$((2+3))"\n');
    await waitForText(one.page, 'small-5');
    const smallSize = await size(small.page);
    await sizeBecomes(one.page, smallSize);
    await waitForText(one.page, `${smallSize.rows} ${smallSize.cols}`);
    // The big page types: it takes its own size back, the small one follows.
    await typeInTerminal(one.page, 'stty size; echo "big-$((3+4))"\n');
    await waitForText(small.page, 'big-7');
    const bigSize = await size(one.page);
    assert.ok(bigSize.cols > smallSize.cols, `big page ${JSON.stringify(bigSize)} not wider than ${JSON.stringify(smallSize)}`);
    await sizeBecomes(small.page, bigSize);
    await waitForText(small.page, `${bigSize.rows} ${bigSize.cols}`);
    assert.deepEqual(small.errors, []);
  } finally {
    await small.context.close();
  }
});

test('the workspace link opens its primary session', async () => {
  const three = await openPage(`/w/${WS}`);
  try {
    const id = await waitForSession(three.page);
    assert.equal(id, sessionId, '/w/NAME attaches to the oldest running session');
    await waitForText(three.page, 'second-42');
  } finally {
    await three.context.close();
  }
});

test('a reload brings the screen back', async () => {
  const { page } = one;
  await page.reload();
  const id = await waitForSession(page);
  assert.equal(id, sessionId);
  await waitForText(page, 'typed-42');
  await waitForText(page, 'second-42');
});

// printed resolves once child has printed s, and fails if it exits first
// or takes longer than ms.
function printed(child, s, ms = 15_000) {
  return new Promise((resolve, reject) => {
    let out = '';
    const done = (err) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onData = (d) => {
      out += d;
      if (out.includes(s)) done();
    };
    const onExit = () => done(new Error(`exited before printing ${s}; it printed:\n${out}`));
    const timer = setTimeout(() => done(new Error(`did not print ${s} in ${ms} ms; it printed:\n${out}`)), ms);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', onExit);
  });
}

test('a command typed over SSH appears in the browser', async () => {
  const port = process.env.SSH_PORT;
  const key = process.env.SSH_KEY;
  const user = process.env.CODETERM_USER;
  assert.ok(port && key && user, 'SSH_PORT, SSH_KEY and CODETERM_USER are set by TestBrowserE2E');
  const ssh = spawn(
    'ssh',
    ['-tt', '-p', port, '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `${user}@127.0.0.1`, WS],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  // The SSH client joins the same screen: it gets the repaint first.
  const shown = printed(ssh, 'second-42');
  try {
    await shown;
    ssh.stdin.write('echo "from-ssh-$((40+2))"\r');
    await waitForText(one.page, 'from-ssh-42');
  } finally {
    ssh.kill();
  }
});

test('a dropped connection resumes without losing or repeating output', async () => {
  const { page } = one;
  // Start from a clean screen at this page's size: the SSH client was the
  // last active one, and output formatted for its 80 columns garbles long
  // lines on a wider screen ("latest client's size wins"): not what this tests.
  await typeInTerminal(page, 'clear; echo "ready-$((3*3))"\n');
  await waitForText(page, /^ready-9$/m);
  // Output produced while this page is offline must arrive once it is back.
  // The other page has the same size, so that the shell is not resized (and
  // does not redraw for another width) in between.
  const other = await openPage(`/w/${WS}/${sessionId}`, { width: 1200, height: 760 });
  try {
    await waitForText(other.page, /^ready-9$/m);
    const was = await page.evaluate(() => window.__codeterm.streamState());
    await page.evaluate(() => window.__codeterm.dropConnection());
    await typeInTerminal(other.page, 'for i in 1 2 3; do echo "gap-$i-$((i*11))"; done\n');
    await waitForText(other.page, 'gap-3-33');
    await page.waitForFunction(() => window.__codeterm.connection() === 'connected', null, { timeout: 20_000 });
    await waitForText(page, 'gap-3-33');
    await typeInTerminal(page, 'echo "after-$((2*2))"\n');
    await waitForText(page, 'after-4');
    const text = await terminalText(page);
    const now = await page.evaluate(() => window.__codeterm.streamState());
    const how = now.repaints > was.repaints ? 'a repaint' : 'a replay';
    for (const marker of ['ready-9', 'gap-1-11', 'gap-2-22', 'gap-3-33', 'after-4']) {
      const lines = text.split('\n').filter((l) => l === marker).length;
      assert.equal(lines, 1, `"${marker}" is shown exactly once after the reconnect (resumed by ${how}, lastSeq ${was.lastSeq} → ${now.lastSeq}):\n${text}\nchunks [seq, length, kind]: ${JSON.stringify(now.recent)}`);
    }
  } finally {
    await other.context.close();
  }
});

// A page away for longer than the server's ring reaches resumes with a
// repaint, which replaces what it missed: a faint line says output was
// skipped, above the history the repaint brings.
test('a tab that was away too long shows where output was skipped', async () => {
  const { page, context } = one;
  const other = await openPage(`/w/${WS}/${sessionId}`, { width: 1200, height: 760 });
  try {
    await typeInTerminal(page, 'clear; echo "away-$((4*4))"\n');
    await waitForText(other.page, /^away-16$/m);
    // Offline, so that the page cannot reconnect before the output is done.
    await context.setOffline(true);
    await page.evaluate(() => window.__codeterm.dropConnection());
    await page.waitForFunction(() => window.__codeterm.connection() !== 'connected', null, { timeout: 20_000 });
    // About 2.6 MB: more than the 2 MiB ring.
    await typeInTerminal(other.page, 'seq 1 400000; echo "past-$((5*5))"\n');
    await waitForText(other.page, /^past-25$/m, { timeout: 60_000 });
    await context.setOffline(false);
    await page.waitForFunction(() => window.__codeterm.connection() === 'connected', null, { timeout: 30_000 });
    await waitForText(page, /^past-25$/m, { timeout: 30_000 });
    const text = await terminalText(page);
    const mark = text.indexOf('output skipped while this tab was behind');
    assert.ok(mark >= 0, `no skip marker; the page shows:\n${text.slice(-2000)}`);
    assert.ok(mark < text.indexOf('399999'), 'the marker is above the history the repaint brought');
    assert.equal(count(text, 'output skipped while this tab was behind'), 1);
  } finally {
    await other.context.close();
    // The browser reports the reconnects refused while offline: expected.
    for (let i = one.errors.length - 1; i >= 0; i--) {
      if (one.errors[i].includes('ERR_INTERNET_DISCONNECTED')) one.errors.splice(i, 1);
    }
  }
});

test('split panes: a second terminal side by side, with its own session', async () => {
  const { page } = one;
  await page.getByRole('button', { name: /^Split right/ }).click();
  await page.waitForFunction((id) => {
    const s = window.__codeterm.shownSessions();
    return s.length === 2 && s[1] && s[1] !== id;
  }, sessionId, { timeout: 20_000 });
  const [, second] = await page.evaluate(() => window.__codeterm.shownSessions());
  await typeInTerminal(page, 'echo "right-$((5*5))"\n');
  await waitForText(page, 'right-25', { sessionId: second });
  assert.equal(count(await terminalText(page, sessionId), 'right-25'), 0, 'the left pane is another session');
  await page.getByRole('tab').nth(1).waitFor();
  assert.equal(await page.getByRole('tab').count(), 2);
  assert.deepEqual(one.errors, []);
});
