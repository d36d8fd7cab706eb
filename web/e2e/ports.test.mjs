// Ports: a dev server started in a workspace's terminal shows up in the side
// panel, opens on a preview origin of its own, and a VNC server opens as a
// desktop (noVNC through the TCP tunnel).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BASE_URL, launch, login, typeInTerminal, waitForSession, waitForText } from './helpers.mjs';

let browser;
let page;
let errors;

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  browser = await launch();
  ({ page, errors } = await login(browser, { viewport: { width: 1280, height: 800 } }));
  await page.goto(`${BASE_URL}/w/demo`);
  await waitForSession(page);
  await waitForText(page, /[#$] ?$/m);
});
after(async () => {
  await browser?.close();
});

test('a dev server in the workspace is listed and opens on its own origin', async () => {
  await typeInTerminal(page, 'echo preview-$((6*7)) > hello.txt; python3 -m http.server 0 --bind 127.0.0.1 >/dev/null 2>&1 &\n');
  const started = Date.now();
  const row = page.locator('.ports .port', { hasText: 'python' });
  await row.waitFor({ timeout: 15_000 });
  console.log(`port listed after ${Date.now() - started} ms`);
  const port = await row.getAttribute('data-port');
  assert.match(await row.locator('.port-ssh').textContent(), new RegExp(`^ssh -N -L ${port}:localhost:${port} -p \\d+ \\S+@\\S+$`));

  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'ports.png') });
  const [tab] = await Promise.all([page.context().waitForEvent('page'), row.getByRole('button', { name: 'Open' }).click()]);
  await tab.waitForURL((u) => u.hostname.startsWith(`${port}--demo--`) && u.pathname === '/', { timeout: 15_000 });
  const origin = new URL(tab.url()).origin;
  assert.notEqual(origin, new URL(BASE_URL).origin);
  await tab.goto(`${origin}/hello.txt`);
  assert.equal((await tab.textContent('body')).trim(), 'preview-42');
  // The preview cannot read codeterm's token: it is another origin.
  assert.equal(await tab.evaluate(() => localStorage.getItem('jwt_token')), null);
  await tab.close();
});

test('a VNC server in the workspace opens as a desktop', { skip: !(have('Xvfb') && have('x11vnc')) && 'Xvfb or x11vnc missing' }, async () => {
  // Xvfb picks a free display itself (-displayfd) and says which: a fixed
  // number could meet a stale socket of an earlier run and x11vnc would
  // start before the server.
  await typeInTerminal(
    page,
    `f=$(mktemp); Xvfb -displayfd 3 -screen 0 1024x640x24 -nolisten tcp 3>$f >/dev/null 2>&1 & until [ -s $f ]; do sleep 0.1; done; ` +
      `D=$(cat $f); (DISPLAY=:$D xclock -geometry 320x320+120+120 -update 1 & DISPLAY=:$D xlogo -geometry 260x260+560+160 &) 2>/dev/null; ` +
      `x11vnc -display :$D -rfbport $((5900 + D)) -localhost -nopw -forever -shared -quiet >/dev/null 2>&1 &\n`,
  );
  const row = page.locator('.ports .port', { hasText: 'x11vnc' });
  await row.getByRole('button', { name: 'Desktop' }).waitFor({ timeout: 20_000 });
  await row.getByRole('button', { name: 'Desktop' }).click();
  const overlay = page.getByRole('dialog', { name: /Desktop on port/ });
  await overlay.getByText('Connected', { exact: true }).waitFor({ timeout: 15_000 });
  // The framebuffer arrived: the canvas shows more than one colour.
  await page.waitForFunction(
    () => {
      const c = document.querySelector('.desktop-screen canvas');
      if (!c || !c.width) return false;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 4; i < d.length; i += 4 * 97) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) return true;
      return false;
    },
    null,
    { timeout: 15_000, polling: 200 },
  );
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'desktop.png') });
  await overlay.getByRole('button', { name: 'Close' }).click();
  assert.deepEqual(errors, []);
});
