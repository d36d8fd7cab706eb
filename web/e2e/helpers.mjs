// Shared helpers for the browser tests: launching Debian's Chromium through
// playwright-core, logging in, and reading terminal text with deadlines.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';

export const BASE_URL = need('BASE_URL').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through "go test ./web -run TestBrowserE2E"`);
  return v;
}

/** Headless Chromium with a fresh profile (playwright makes a temporary
 * user-data-dir for every launch and removes it on close). */
export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** A fresh one-time login link, made with `codeterm login-link` (or taken
 * from LOGIN_LINKS when the CLI is not at hand). Each test file runs in its
 * own process, so links are minted, never shared. */
const pool = (process.env.LOGIN_LINKS || '').split(/\s+/).filter(Boolean);
export function loginLink() {
  const link = process.env.CODETERM_BIN ? mint() : pool.shift();
  if (!link) throw new Error('no login link: set CODETERM_BIN (with CODETERM_USER and CODETERM_DATA) or LOGIN_LINKS');
  // The CLI prints the configured public URL; the server under test listens
  // on another port, so keep only the code.
  const code = new URL(link).searchParams.get('code');
  return `${BASE_URL}/login?code=${encodeURIComponent(code)}`;
}

function mint() {
  const bin = need('CODETERM_BIN');
  const out = execFileSync(bin, ['login-link', need('CODETERM_USER'), '--data', need('CODETERM_DATA')], {
    env: { ...process.env, HOME: process.env.CODETERM_HOME || process.env.HOME },
    encoding: 'utf8',
  });
  return out.trim().split('\n').pop();
}

/** Fails the test on any page error or console error: a UI that logs
 * errors is broken even if the assertions pass. */
export function watchErrors(page, errors = []) {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests are logged by the browser too; the tests check the
    // outcomes that matter (a 404 from an optional endpoint is expected).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Logs a fresh context in with a login link and returns the page, at the
 * workspace list. */
export async function login(browser, opts = {}) {
  const context = await browser.newContext(opts);
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(loginLink());
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 15_000 });
  return { context, page, errors };
}

/** Waits until the terminal text of a session matches, or fails with what
 * the terminal showed at the deadline. */
export async function waitForText(page, pattern, { sessionId, timeout = 15_000 } = {}) {
  const re = typeof pattern === 'string' ? new RegExp(escapeRe(pattern)) : pattern;
  try {
    await page.waitForFunction(
      ([src, flags, id]) => new RegExp(src, flags).test(window.__codeterm?.terminalText(id ?? undefined) ?? ''),
      [re.source, re.flags, sessionId ?? null],
      { timeout, polling: 100 },
    );
  } catch (e) {
    const text = await terminalText(page, sessionId);
    assert.fail(`terminal never showed ${re} within ${timeout} ms; it shows:\n----\n${text}\n----`);
  }
}

export function terminalText(page, sessionId) {
  return page.evaluate((id) => window.__codeterm?.terminalText(id ?? undefined) ?? '', sessionId ?? null);
}

/** Waits for the page to show a terminal attached to a session; returns its id. */
export async function waitForSession(page, timeout = 20_000) {
  const h = await page.waitForFunction(() => window.__codeterm?.focusedSession(), null, { timeout, polling: 100 });
  return h.jsonValue();
}

/** Types into the focused terminal the way a person would. */
export async function typeInTerminal(page, text) {
  // With several panes the focused one is marked; with one, it is the only one.
  const focused = page.locator('.pane.focused .xterm-helper-textarea');
  await ((await focused.count()) ? focused : page.locator('.pane .xterm-helper-textarea').first()).focus();
  await page.keyboard.type(text, { delay: 5 });
}

export function count(haystack, needle) {
  return haystack.split(needle).length - 1;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
