// terminal-output's two forms in the page, driven by BenchmarkPageOutputForms
// (web/bench_test.go; TestBrowserE2E runs it once, small). Two pages, one
// asking for the JSON string form (localStorage codeterm.outputForm =
// "string") and one for the binary form, each on the primary session of its
// own workspace (bench-string, bench-binary). ROUNDS times, each page in
// turn cats a SIZE-byte file of KIND ("text": UTF-8 terminal text, "bytes":
// random bytes); the clock runs from the Enter key to xterm.js's write
// callback for the chunk holding the end marker. CPU time from /proc: the
// server (SERVER_PID, its own threads only) and every Chromium process (this
// script's descendants). Prints one JSON object: per form, bytes (by the
// stream's offsets), ms, serverCpuMs, browserCpuMs.
import { writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_URL, launch, login, typeInTerminal, waitForSession, waitForText, watchErrors } from './helpers.mjs';

const KIND = process.env.KIND || 'text';
const ROUNDS = Number(process.env.ROUNDS || 1);
const SIZE = Number(process.env.SIZE || 16 << 20);
const SERVER_PID = Number(process.env.SERVER_PID);
const FORMS = ['string', 'binary'];
// USER_HZ: the unit of /proc/PID/stat's times on Linux.
const TICK_MS = 10;
const DEADLINE_MS = 180_000;

if (!SERVER_PID) throw new Error('SERVER_PID is not set');
const file = join(process.env.TMPDIR || tmpdir(), `output-${KIND}`);
writeFileSync(file, KIND === 'bytes' ? randomBytes(SIZE) : text(SIZE), { mode: 0o600 });

/** UTF-8 text as programs print it, as BenchmarkOutputForms (webbridge) cats. */
function text(n) {
  const parts = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const line = Buffer.from(`line ${i} │ café naïve — the quick brown fox jumps over the lazy dog "quoted"\tand tabbed\n`);
    parts.push(line);
    len += line.length;
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Random bytes from a fixed seed (xorshift32), the same file every run. */
function randomBytes(n) {
  const b = Buffer.alloc(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** [ppid, utime + stime in ms] of a process, or null once it is gone. */
function stat(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [Number(f[1]), (Number(f[11]) + Number(f[12])) * TICK_MS];
}

/** CPU ms of the server and of Chromium (every descendant of this script). */
function cpu() {
  const all = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = stat(d);
    if (st) all.set(Number(d), st);
  }
  const mine = new Set([process.pid]);
  let browser = 0;
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, [ppid, ms]] of all) {
      if (!mine.has(pid) && mine.has(ppid)) {
        mine.add(pid);
        browser += ms;
        grew = true;
      }
    }
  }
  const server = stat(SERVER_PID);
  if (!server) throw new Error(`server ${SERVER_PID} is gone`);
  return { server: server[1], browser };
}

function withDeadline(p, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

let n = 0;
/** Types a command line (without its Enter) and returns a function that
 * presses Enter and resolves when xterm.js has parsed the marker. */
async function prepare(page, line, marker) {
  await page.evaluate((m) => {
    window.__benchDone = window.__codeterm.whenWritten(m);
  }, marker);
  await typeInTerminal(page, line);
  return async () => {
    await page.keyboard.press('Enter');
    await withDeadline(page.evaluate(() => window.__benchDone), `waiting for ${marker}`);
  };
}

/** Brings the terminal to a known state: a fresh command line (Ctrl-C drops
 * what xterm.js answered to queries in random bytes), no escape sequence
 * in progress (CAN), the terminal reset (RIS), every earlier output parsed. */
async function settle(page) {
  await page.keyboard.press('Control+C');
  const i = ++n;
  const go = await prepare(page, `printf '\\030\\033c'; echo S''YNC-${i}`, `SYNC-${i}`);
  await go();
}

const browser = await launch();
const totals = {};
const pages = {};
try {
  const { context, errors } = await login(browser);
  const state = await context.storageState();
  await context.close();
  if (errors.length) throw new Error(errors.join('\n'));
  for (const form of FORMS) {
    const ctx = await browser.newContext({ storageState: state, viewport: { width: 1200, height: 760 } });
    await ctx.addInitScript((f) => localStorage.setItem('codeterm.outputForm', f), form);
    const page = await ctx.newPage();
    const errs = watchErrors(page);
    await page.goto(`${BASE_URL}/w/bench-${form}`);
    const sessionId = await waitForSession(page);
    await waitForText(page, /[#$] ?$/m, { sessionId });
    await typeInTerminal(page, 'stty -echo\n');
    await settle(page);
    pages[form] = { page, errs, sessionId };
    totals[form] = { bytes: 0, ms: 0, serverCpuMs: 0, browserCpuMs: 0 };
  }
  const seq = (p) => p.page.evaluate((id) => window.__codeterm.streamState(id).lastSeq, p.sessionId);
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which form goes first, so that neither always follows the other.
    for (const form of r % 2 ? [...FORMS].reverse() : FORMS) {
      const p = pages[form];
      await settle(p.page);
      const i = ++n;
      const go = await prepare(p.page, `cat ${file}; echo E''ND-${i}`, `END-${i}`);
      const seq0 = await seq(p);
      const c0 = cpu();
      const t0 = performance.now();
      await go();
      const ms = performance.now() - t0;
      const c1 = cpu();
      const t = totals[form];
      t.ms += ms;
      t.bytes += (await seq(p)) - seq0;
      t.serverCpuMs += c1.server - c0.server;
      t.browserCpuMs += c1.browser - c0.browser;
    }
  }
  for (const form of FORMS) {
    const { page, errs, sessionId } = pages[form];
    // The switch worked: every chunk came in the form asked for.
    const { forms } = await page.evaluate((id) => window.__codeterm.streamState(id), sessionId);
    const ok = form === 'binary' ? forms.bytes > 0 && forms.strings === 0 : forms.strings > 0 && forms.bytes === 0;
    if (!ok) throw new Error(`the ${form} page got ${JSON.stringify(forms)}`);
    if (errs.length) throw new Error(`the ${form} page: ${errs.join('\n')}`);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(totals));
