// The sign-in screen: trades a one-time login code for a token, or offers
// GitHub when the server has it configured.
import { ApiError, authProviders, exchangeCode, getToken, revokeToken, setToken } from './api';
import type { App, View } from './app';
import { confirmDialog } from './dialog';
import { h, icon } from './dom';

export class LoginView implements View {
  readonly el: HTMLElement;
  private readonly status: HTMLElement;
  private readonly providers: HTMLElement;

  constructor(
    private readonly app: App,
    params: URLSearchParams,
  ) {
    this.status = h('div', { class: 'login-status', role: 'status', 'aria-live': 'polite' });
    this.providers = h('div', { class: 'login-providers' });
    const input = h('input', {
      type: 'text',
      id: 'login-code',
      name: 'code',
      autocomplete: 'one-time-code',
      spellcheck: 'false',
      placeholder: 'https://…/login?code=…',
      'aria-describedby': 'login-help',
    });
    const form = h(
      'form',
      { class: 'login-form' },
      h('label', { for: 'login-code' }, 'Login link or code'),
      h('div', { class: 'row' }, input, h('button', { type: 'submit', class: 'btn primary' }, 'Sign in')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const code = codeFrom(input.value);
      if (code) void this.exchange(code);
      else this.fail('Paste the whole login link, or just the code after "code=".');
    });
    this.el = h(
      'main',
      { class: 'login', id: 'main' },
      h(
        'div',
        { class: 'login-card' },
        h('div', { class: 'brand big' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '>_'), 'codeterm'),
        h('h1', {}, 'Sign in'),
        this.status,
        form,
        h(
          'p',
          { class: 'muted', id: 'login-help' },
          'A login link works once and expires after a few minutes. Get a fresh one with ',
          h('code', {}, 'ssh -p 2222 you@host login'),
          ' or, on the server, ',
          h('code', {}, 'codeterm login-link USER'),
          '.',
        ),
        this.providers,
      ),
    );

    const code = params.get('code');
    if (code) {
      // The code is a password until used: keep it out of history and the
      // Referer of anything we load next.
      history.replaceState(history.state, '', '/login');
      void this.exchange(code);
    } else {
      const why = params.get('reason') || app.takeLogoutReason();
      if (why) this.note(why);
      else input.focus();
    }
    void this.loadProviders();
  }

  dispose(): void {}

  private async exchange(code: string): Promise<void> {
    this.note('Signing in…');
    // A login link can come from anyone: one that would swap the account
    // this browser is signed in to (and let its sender watch what is typed
    // here) is never followed without asking.
    const prevToken = getToken();
    const prevUser = prevToken ? this.app.user() : null;
    try {
      const r = await exchangeCode(code);
      if (prevToken && prevUser?.id !== r.user.id) {
        const current = prevUser ? `“${prevUser.name}”` : 'another account';
        const ok = await confirmDialog(
          'Switch account?',
          `You are signed in as ${current}. This login link signs you in as “${r.user.name}” instead. Only switch if you asked for this link yourself.`,
          `Switch to ${r.user.name}`,
          false,
        );
        if (!ok) {
          revokeToken(r.token).catch(() => {});
          this.app.toasts.info(prevUser ? `Still signed in as ${prevUser.name}.` : 'Still signed in.');
          this.app.navigate('/', true);
          return;
        }
        revokeToken(prevToken).catch(() => {});
      }
      setToken(r.token);
      this.app.signedIn(r.user);
    } catch (e) {
      const err = e as ApiError;
      if (err.code === 'INVALID_LOGIN_CODE' || err.status === 401) {
        this.fail('This login link is invalid, already used or expired. Ask for a new one (see below).');
      } else if (err.code === 'RATE_LIMITED' || err.status === 429) {
        this.fail('Too many sign-in attempts from here. Wait a minute and try again.');
      } else {
        this.fail(`Sign-in failed: ${err.message}`);
      }
    }
  }

  private async loadProviders(): Promise<void> {
    try {
      const p = await authProviders();
      if (!p.github) return;
      const next = encodeURIComponent(this.app.peekNext() ?? '/');
      this.providers.replaceChildren(
        h('div', { class: 'or' }, h('span', {}, 'or')),
        h('a', { class: 'btn github', href: `${p.githubUrl}${p.githubUrl?.includes('?') ? '&' : '?'}next=${next}` }, icon('github'), 'Sign in with GitHub'),
      );
    } catch (e) {
      // Not fatal: links still work. Say so rather than hide it.
      this.app.toasts.error('Could not ask the server which sign-in methods it offers', (e as Error).message);
    }
  }

  private note(msg: string): void {
    this.status.className = 'login-status';
    this.status.textContent = msg;
  }

  private fail(msg: string): void {
    this.status.className = 'login-status error';
    this.status.setAttribute('role', 'alert');
    this.status.textContent = msg;
  }
}

/** Accepts a whole link, a path, or a bare code. */
function codeFrom(text: string): string | null {
  const t = text.trim();
  if (!t) return null;
  try {
    const u = new URL(t, location.origin);
    const c = u.searchParams.get('code');
    if (c) return c;
  } catch {
    /* not a URL: a bare code */
  }
  return /^[\w\-.~%]+$/.test(t) ? t : null;
}
