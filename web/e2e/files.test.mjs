// Files in the browser: the tree, the editor (open, edit, Ctrl+S, checked
// over SSH), uploads through the file chooser with a progress bar, and a
// 50 MiB upload over the socket whose sha256 sftp confirms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { io } from 'socket.io-client';
import { BASE_URL, launch, login, waitForSession } from './helpers.mjs';

const run = promisify(execFile);
const WS = 'demo'; // made by TestBrowserE2E with the CLI
const PORT = process.env.SSH_PORT;
const KEY = process.env.SSH_KEY;
const USER = process.env.CODETERM_USER;
const SSH_OPTS = ['-i', KEY, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'];
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** Runs a command in the workspace over codeterm's SSH. */
async function sshRun(cmd) {
  const { stdout } = await run('ssh', ['-p', PORT, ...SSH_OPTS, `${USER}@127.0.0.1`, WS, cmd], { timeout: 30_000 });
  return stdout;
}

let browser;
let page;
let errors;
let token;
const tmp = mkdtempSync(join(tmpdir(), 'codeterm-files-'));

before(async () => {
  assert.ok(PORT && KEY && USER, 'SSH_PORT, SSH_KEY and CODETERM_USER are set by TestBrowserE2E');
  browser = await launch();
  const l = await login(browser, { viewport: { width: 1280, height: 800 } });
  page = l.page;
  errors = l.errors;
  token = await page.evaluate(() => localStorage.getItem('jwt_token'));
});
after(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('open a file from the tree, edit, save with Ctrl+S; SSH sees the change', async () => {
  await sshRun("mkdir -p src && printf 'package main\\n\\nfunc main() {}\\n' > src/main.go && printf '# demo\\n' > README.md");
  await page.goto(`${BASE_URL}/w/${WS}`);
  await waitForSession(page);
  if (!(await page.locator('.side-host').isVisible())) await page.getByRole('button', { name: /^Side panel/ }).click();
  const tree = page.getByRole('tree', { name: 'Workspace files' });
  await tree.getByRole('treeitem', { name: /^src, folder/ }).click();
  await tree.getByRole('treeitem', { name: /^main\.go/ }).click();
  const content = page.getByRole('textbox', { name: 'Contents of src/main.go' });
  await content.waitFor();
  await page.getByRole('tab', { name: 'main.go' }).waitFor();
  await content.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('// edited in the browser\n');
  await page.getByRole('tab', { name: 'main.go, unsaved changes' }).waitFor();
  await page.keyboard.press('Control+s');
  // exact: a name given as a string otherwise matches as a substring, and
  // 'main.go, unsaved changes' would pass before the save is done.
  await page.getByRole('tab', { name: 'main.go', exact: true }).waitFor();
  assert.equal(await sshRun('cat src/main.go'), 'package main\n\nfunc main() {}\n// edited in the browser\n');
  // The tree colours what git sees as changed: new here, so untracked.
  await page.getByRole('treeitem', { name: /^main\.go, untracked/ }).waitFor();

  // The shell changes it behind the editor: a save asks first.
  await content.click();
  await page.keyboard.type('// mine');
  await sshRun('echo "// from the shell" >> src/main.go');
  await page.keyboard.press('Control+s');
  const dlg = page.getByRole('dialog', { name: 'src/main.go changed on disk' });
  await dlg.waitFor();
  await dlg.getByRole('button', { name: 'Discard mine and reload' }).click();
  await page.waitForFunction(() => document.querySelector('.cm-content')?.textContent?.includes('// from the shell'));
  assert.deepEqual(errors, []);
});

test('the tree by keyboard: one item in the tab order, arrows move, Enter opens', async () => {
  const tree = page.getByRole('tree', { name: 'Workspace files' });
  assert.equal(await tree.locator('li[role=treeitem][tabindex="0"]').count(), 1);
  await tree.locator('li[role=treeitem][tabindex="0"]').focus();
  for (let i = 0; i < 10; i++) {
    const name = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    if (name.startsWith('README.md')) break;
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Enter');
  await page.getByRole('textbox', { name: 'Contents of README.md' }).waitFor();
  assert.equal(await tree.locator('li[role=treeitem][tabindex="0"]').getAttribute('data-path'), 'README.md');
  assert.deepEqual(errors, []);
});

test('upload through the file chooser: the progress bar finishes, SSH has the bytes', async () => {
  const data = randomBytes(3 << 20);
  const file = join(tmp, 'chosen.bin');
  writeFileSync(file, data);
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Upload files' }).click();
  await (await chooser).setFiles(file);
  const bar = page.getByRole('progressbar', { name: 'Uploading chosen.bin' });
  await bar.waitFor();
  await page.locator('.upload.done', { hasText: 'chosen.bin' }).waitFor({ timeout: 30_000 });
  assert.equal(await bar.getAttribute('value'), String(data.length));
  await page.getByRole('treeitem', { name: /^chosen\.bin/ }).waitFor();
  assert.equal((await sshRun('sha256sum chosen.bin')).split(' ')[0], sha256(data));
  assert.deepEqual(errors, []);
});

test('drop a file on the tree, download it from its menu', async () => {
  // A synthetic drop: what a person dragging a file from the desktop causes.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped bytes\n'], 'dropped.txt', { type: 'text/plain' }));
    const target = document.querySelector('.filetree');
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.locator('.upload.done', { hasText: 'dropped.txt' }).waitFor({ timeout: 30_000 });
  assert.equal(await sshRun('cat dropped.txt'), 'dropped bytes\n');
  const item = page.getByRole('treeitem', { name: /^dropped\.txt/ });
  await item.click({ button: 'right' });
  const download = page.waitForEvent('download');
  await page.getByRole('menuitem', { name: 'Download' }).click();
  const d = await download;
  assert.equal(d.suggestedFilename(), 'dropped.txt');
  assert.equal(readFileSync(await d.path(), 'utf8'), 'dropped bytes\n');

  // Rename and delete from the menu, confirming the deletion.
  await item.click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Rename' }).click();
  const rename = page.getByRole('dialog', { name: 'Rename dropped.txt' });
  await rename.getByLabel('New name').fill('renamed.txt');
  await rename.getByRole('button', { name: 'Rename' }).click();
  const renamed = page.getByRole('treeitem', { name: /^renamed\.txt/ });
  await renamed.waitFor();
  await renamed.click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: 'Delete renamed.txt?' }).getByRole('button', { name: 'Delete' }).click();
  await renamed.waitFor({ state: 'detached' });
  assert.equal(await sshRun('ls dropped.txt renamed.txt 2>/dev/null; echo end'), 'end\n');
  assert.deepEqual(errors, []);
});

test('50 MiB over the socket in chunks: sftp fetches the same sha256', async () => {
  const data = randomBytes(50 << 20);
  const socket = io(BASE_URL, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    await new Promise((res, rej) => { socket.once('connect', res); socket.once('connect_error', rej); });
    const ws = (await (await fetch(`${BASE_URL}/api/workspaces`, { headers: { Authorization: `Bearer ${token}` } })).json()).workspaces.find((w) => w.name === WS);
    const start = await socket.timeout(15_000).emitWithAck('upload-file', { workspaceId: ws.id, path: 'big.bin', size: data.length, sha256: sha256(data), overwrite: true });
    assert.equal(start.ok, true, JSON.stringify(start));
    let last;
    for (let off = 0; off < data.length; ) {
      const batch = [];
      for (let i = 0; i < start.window && off < data.length; i++) {
        const end = Math.min(off + start.chunkSize, data.length);
        batch.push(socket.timeout(30_000).emitWithAck('upload-chunk', { uploadId: start.uploadId, offset: off, data: data.subarray(off, end) }));
        off = end;
      }
      for (const ack of await Promise.all(batch)) {
        assert.equal(ack.ok, true, JSON.stringify(ack));
        last = ack;
      }
    }
    assert.equal(last.done, true);
    assert.equal(last.sha256, sha256(data));
  } finally {
    socket.close();
  }
  const local = join(tmp, 'fetched.bin');
  const batch = join(tmp, 'batch');
  // sftp starts in HOME; the workspace is ~/ws/NAME (README, SSH).
  writeFileSync(batch, `get ws/${WS}/big.bin ${local}\n`);
  await run('sftp', ['-P', PORT, ...SSH_OPTS, '-b', batch, `${USER}+${WS}@127.0.0.1`], { timeout: 60_000 });
  assert.equal(sha256(readFileSync(local)), sha256(data));
});
