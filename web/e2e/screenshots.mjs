// Takes the README screenshots into docs/screenshots/ from a running server:
//
//   BASE_URL=http://127.0.0.1:8080 CODETERM_BIN=bin/codeterm CODETERM_USER=$USER \
//   CODETERM_DATA=~/.local/share/codeterm node web/e2e/screenshots.mjs
//
// It uses (and creates if needed) a workspace named "demo".
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_URL, launch, login, typeInTerminal, waitForSession, waitForText } from './helpers.mjs';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const shot = (page, name) => page.screenshot({ path: join(out, `${name}.png`) });

const browser = await launch();
try {
  const desktop = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };

  const anon = await browser.newContext(desktop);
  const lp = await anon.newPage();
  await lp.goto(`${BASE_URL}/login`);
  await lp.getByRole('heading', { name: 'Sign in' }).waitFor();
  await shot(lp, 'login');
  await anon.close();

  const { context, page } = await login(browser, desktop);
  const state = await context.storageState();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  if (!(await page.getByRole('link', { name: 'demo', exact: true }).count())) {
    await page.getByRole('button', { name: 'New workspace' }).click();
    await page.getByLabel('Name').fill('demo');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/w/demo'));
    await page.goto(`${BASE_URL}/`);
  }
  await page.locator('.badge', { hasText: /clean|changed/ }).first().waitFor({ timeout: 10_000 }).catch(() => {});
  await shot(page, 'workspaces');

  await page.goto(`${BASE_URL}/w/demo`);
  await waitForSession(page);
  await typeInTerminal(page, 'clear; printf "hello\\n" > README.md; git status --short; ls -la --color=always\n');
  await waitForText(page, 'README.md');
  await page.getByRole('button', { name: /^Split right/ }).click();
  await page.waitForFunction(() => window.__codeterm.shownSessions().filter(Boolean).length === 2);
  await waitForText(page, /[#$] ?$/m, { sessionId: (await page.evaluate(() => window.__codeterm.shownSessions()))[1] });
  await typeInTerminal(page, 'printf "\\e[1;32m✓\\e[0m split panes share the workspace\\n"; uname -sm\n');
  await page.waitForTimeout(700); // let the side panel's status and the file event land
  await shot(page, 'terminal');

  // The file tree and the editor.
  await typeInTerminal(page, "clear; mkdir -p src && printf 'package main\\n\\nimport \"fmt\"\\n\\nfunc main() {\\n\\tfmt.Println(\"hello from codeterm\")\\n}\\n' > src/main.go; printf '# demo\\n' >> README.md\n");
  const tree = page.getByRole('tree', { name: 'Workspace files' });
  if (!(await tree.isVisible())) await page.getByRole('button', { name: /^Side panel/ }).click();
  await tree.getByRole('treeitem', { name: /^src, folder/ }).click();
  await tree.getByRole('treeitem', { name: /^main\.go/ }).click();
  await page.getByRole('textbox', { name: 'Contents of src/main.go' }).waitFor();
  await page.waitForTimeout(500); // the Go grammar arrives in a chunk of its own
  await page.keyboard.press('Control+End');
  await page.keyboard.type('// edited in the browser');
  await shot(page, 'editor');
  await tree.getByRole('treeitem', { name: /^README\.md/ }).click({ button: 'right' });
  await page.getByRole('menu').waitFor();
  await shot(page, 'files');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+s');
  await page.getByRole('tab', { name: 'bash 1' }).first().click().catch(() => {});

  await page.evaluate(() => {
    localStorage.setItem('codeterm.settings', JSON.stringify({ ...JSON.parse(localStorage.getItem('codeterm.settings') || '{}'), theme: 'daylight' }));
  });
  await page.reload();
  await page.waitForFunction(() => window.__codeterm.shownSessions().filter(Boolean).length === 2);
  await page.waitForTimeout(500);
  await shot(page, 'terminal-light');
  await page.evaluate(() => localStorage.removeItem('codeterm.settings'));
  await context.close();

  const phone = await browser.newContext({ storageState: state, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  await pp.goto(`${BASE_URL}/w/demo`);
  await waitForSession(pp);
  await waitForText(pp, /[#$] ?$/m);
  await pp.locator('.keybar').waitFor();
  await shot(pp, 'mobile');
  // The file tree is in the side panel, a drawer on a phone.
  await pp.getByRole('button', { name: /^Side panel/ }).click();
  await pp.getByRole('tree', { name: 'Workspace files' }).waitFor();
  await pp.getByRole('treeitem', { name: /^src, folder/ }).tap();
  await pp.getByRole('treeitem', { name: /^main\.go/ }).waitFor();
  await shot(pp, 'files-mobile');
  await pp.getByRole('button', { name: /^Side panel/ }).click();
  await phone.close();
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
}
