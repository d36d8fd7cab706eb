// The app object: the one place holding state that outlives a screen (the
// connection, the settings, the signed-in user) and the router between screens.
import { ApiError, authProviders, clearToken, getToken, revokeToken, type Providers, type User } from './api';
import { openDialog } from './dialog';
import { h, icon } from './dom';
import { matchShortcut, OTHER_KEYS, SHORTCUTS, type Action } from './keys';
import { LoginView } from './login';
import { ReplayView } from './replay';
import { SharedView } from './shared';
import { Connection, type ConnStatus } from './socket';
import type { OutputPayload } from './terminal';
import { applyTheme, clampFont, defaultSettings, loadSettings, saveSettings, THEMES, themeById, type Settings } from './theme';
import { Toasts } from './toasts';
import { CommandNotifier, type CommandFinished, type CommandStarted } from './commands';
import { Workbench } from './workbench';
import { WorkspaceList } from './workspaces';

export interface View {
  readonly el: HTMLElement;
  dispose(): void;
  resumed?(): void;
  disconnected?(): void;
  settingsChanged?(): void;
  output?(p: OutputPayload): void;
  action?(a: Action): void;
}

const USER_KEY = 'codeterm.user';
const NEXT_KEY = 'codeterm.next';
const NEXT_TTL_MS = 30 * 60_000;

export class App {
  readonly toasts: Toasts;
  readonly commands: CommandNotifier;
  settings: Settings;
  providers: Providers = { github: false };
  private conn: Connection | null = null;
  private view: View | null = null;
  private readonly main: HTMLElement;
  private readonly connEls = new Set<HTMLElement>();
  private logoutReason = '';

  constructor(root: HTMLElement) {
    this.settings = loadSettings();
    applyTheme(themeById(this.settings.theme));
    this.main = h('div', { class: 'app-main' });
    root.replaceChildren(h('a', { href: '#main', class: 'skip-link' }, 'Skip to content'), this.main);
    this.toasts = new Toasts(root);
    this.commands = new CommandNotifier(this.toasts);
    // Typing in a terminal is the moment to ask whether long commands may
    // notify; the browser asks the person once.
    document.addEventListener('keydown', (e) => {
      if ((e.target as Element | null)?.closest?.('.term-host')) this.commands.askPermission();
    }, { capture: true });

    window.addEventListener('popstate', () => this.route());
    document.addEventListener('click', (e) => this.interceptLink(e));
    document.addEventListener('keydown', (e) => {
      // Keys typed in a terminal were seen (and prevented) by it already.
      if (e.defaultPrevented) return;
      const a = matchShortcut(e);
      if (!a || document.querySelector('dialog[open]')) return;
      e.preventDefault();
      if (this.view?.action) this.view.action(a);
      else this.globalAction(a);
    });
    authProviders().then(
      (p) => (this.providers = p),
      () => {},
    );
    this.exposeTestHooks();
  }

  // ---- routing ----

  navigate(path: string, replace = false): void {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    this.route();
  }

  route(): void {
    const path = location.pathname;
    const params = new URLSearchParams(location.search);
    this.view?.dispose();
    this.view = null;
    document.title = 'codeterm';

    if (path === '/login' || path === '/login/') {
      if (getToken() && !params.get('code')) {
        this.navigate(this.takeNext() ?? '/', true);
        return;
      }
      this.closeConnection();
      this.mount(new LoginView(this, params));
      return;
    }
    if (!getToken()) {
      this.rememberNext(path + location.search);
      this.navigate('/login', true);
      return;
    }
    const m = /^\/w\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
    if (m) {
      this.mount(new Workbench(this, safeDecode(m[1]), m[2] ? safeDecode(m[2]) : null));
      return;
    }
    const replay = /^\/r\/([^/]+)\/?$/.exec(path);
    if (replay) {
      this.mount(new ReplayView(this, safeDecode(replay[1])));
      return;
    }
    const shared = /^\/s\/([^/]+)\/?$/.exec(path);
    if (shared) {
      this.mount(new SharedView(this, safeDecode(shared[1])));
      return;
    }
    if (path !== '/') history.replaceState(null, '', '/');
    document.title = 'Workspaces · codeterm';
    this.mount(new WorkspaceList(this));
  }

  private mount(v: View): void {
    this.view = v;
    this.main.replaceChildren(v.el);
  }

  private interceptLink(e: MouseEvent): void {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a[data-link]') as HTMLAnchorElement | null;
    if (!a || a.origin !== location.origin) return;
    e.preventDefault();
    this.navigate(a.pathname + a.search);
  }

  // ---- auth ----

  user(): User | null {
    try {
      return JSON.parse(localStorage.getItem(USER_KEY) ?? 'null');
    } catch {
      return null;
    }
  }

  signedIn(user: User): void {
    try {
      localStorage.setItem(USER_KEY, JSON.stringify(user));
    } catch {
      /* the name is cosmetic */
    }
    this.closeConnection();
    this.navigate(this.takeNext() ?? '/', true);
  }

  /** The Sign out button: the token is revoked on the server too. */
  signOut(): void {
    const token = getToken();
    if (token) revokeToken(token).catch(() => {});
    this.logout('You signed out.');
  }

  logout(reason = ''): void {
    clearToken();
    try {
      localStorage.removeItem(USER_KEY);
    } catch {
      /* nothing to remove */
    }
    this.logoutReason = reason;
    this.closeConnection();
    this.navigate('/login', true);
  }

  /** The server no longer takes our token: straight to the login page,
   * remembering where we were. */
  authLost(message: string): void {
    if (!getToken()) return;
    if (this.conn && this.conn.token !== getToken()) {
      // Another tab signed in again (and revoked the token this page
      // connected with): follow it instead of signing it out.
      this.closeConnection();
      this.route();
      return;
    }
    if (location.pathname !== '/login') this.rememberNext(location.pathname);
    this.logout(message || 'Your session ended. Sign in again.');
  }

  takeLogoutReason(): string {
    const r = this.logoutReason;
    this.logoutReason = '';
    return r;
  }

  /** REST failures: a 401 means the token is dead. */
  apiFailed(e: unknown, context: string): void {
    if (e instanceof ApiError && e.status === 401) {
      this.authLost('Your session has expired. Sign in again.');
      return;
    }
    this.toasts.error(context, (e as Error).message);
  }

  // The deep link a logged-out visitor asked for survives the trip through
  // the login page (which may be opened from a link in another tab).
  private rememberNext(path: string): void {
    if (!path || path === '/' || path.startsWith('/login')) return;
    try {
      localStorage.setItem(NEXT_KEY, JSON.stringify({ path, at: Date.now() }));
    } catch {
      /* no storage: land on the list */
    }
  }

  peekNext(): string | null {
    try {
      const n = JSON.parse(localStorage.getItem(NEXT_KEY) ?? 'null');
      if (n && typeof n.path === 'string' && n.path.startsWith('/') && !n.path.startsWith('//') && Date.now() - n.at < NEXT_TTL_MS) return n.path;
    } catch {
      /* ignore */
    }
    return null;
  }

  private takeNext(): string | null {
    const n = this.peekNext();
    try {
      localStorage.removeItem(NEXT_KEY);
    } catch {
      /* ignore */
    }
    return n;
  }

  // ---- the connection ----

  connection(): Connection {
    if (this.conn) return this.conn;
    const conn = new Connection(getToken() ?? '', {
      status: (s) => this.renderStatus(s),
      authLost: (msg) => this.authLost(msg),
      resumed: () => this.view?.resumed?.(),
      restarted: () => this.toasts.info('Server restarted', 'Your terminals kept running.'),
      problem: (msg) => this.toasts.error(msg),
    });
    conn.on('terminal-output', (p: OutputPayload) => this.view?.output?.(p));
    conn.on('command-started', (p: CommandStarted) => this.commands.started(p));
    conn.on('command-finished', (p: CommandFinished) => this.commands.finished(p));
    conn.on('disconnect', () => this.view?.disconnected?.());
    conn.on('error', (e) => this.toasts.serverError(e, e?.event ? `While handling “${e.event}”.` : undefined));
    conn.on('terminal-error', (e) => this.toasts.serverError(e, 'Terminal.'));
    conn.on('workspace-error', (e) => this.toasts.serverError(e, e?.operation ? `Workspace ${e.operation}.` : 'Workspace.'));
    this.conn = conn;
    return conn;
  }

  private closeConnection(): void {
    this.conn?.close();
    this.conn = null;
    this.renderStatus({ state: 'offline', attempt: 0 });
  }

  /** A connection indicator for a header; all of them stay in step. */
  private connectionIndicator(): HTMLElement {
    const el = h('div', { class: 'conn', role: 'status', 'aria-live': 'polite' });
    this.connEls.add(el);
    this.paintStatus(el, this.conn?.current ?? { state: 'connecting', attempt: 0 });
    return el;
  }

  private renderStatus(s: ConnStatus): void {
    for (const el of [...this.connEls]) {
      if (!el.isConnected) {
        this.connEls.delete(el);
        continue;
      }
      this.paintStatus(el, s);
    }
  }

  private paintStatus(el: HTMLElement, s: ConnStatus): void {
    const text: Record<string, string> = {
      connected: 'Connected',
      connecting: 'Connecting…',
      reconnecting: s.attempt ? `Reconnecting (try ${s.attempt})…` : 'Reconnecting…',
      offline: 'Offline',
    };
    el.className = `conn ${s.state}`;
    el.dataset.state = s.state;
    el.title = s.reason ? `${text[s.state]} — ${s.reason}` : text[s.state];
    el.replaceChildren(h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), h('span', { class: 'conn-text' }, text[s.state]));
    if (s.state !== 'connected' && this.conn) {
      el.append(h('button', { type: 'button', class: 'link-btn', onclick: () => this.conn?.retryNow() }, 'Retry now'));
    }
  }

  /** Typing into a dead connection: make the indicator say so. */
  flashConnection(): void {
    for (const el of this.connEls) {
      el.classList.remove('flash');
      void el.offsetWidth; // restart the animation
      el.classList.add('flash');
    }
  }

  // ---- chrome ----

  header(crumbs: Node[], extra: Node[] = []): HTMLElement {
    const u = this.user();
    return h(
      'header',
      { class: 'topbar' },
      h('a', { href: '/', class: 'brand', 'data-link': true, 'aria-label': 'codeterm: all workspaces' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '>_'), h('span', { class: 'brand-name' }, 'codeterm')),
      ...crumbs,
      h('div', { class: 'spacer' }),
      this.connectionIndicator(),
      ...extra,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Keyboard shortcuts (F1)', title: 'Keyboard shortcuts (F1)', onclick: () => this.showShortcuts() }, icon('keyboard')),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Settings', title: 'Settings', onclick: () => this.showSettings() }, icon('gear')),
      h('span', { class: 'user', title: 'Signed in' }, u?.name ?? ''),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Sign out', title: 'Sign out', onclick: () => this.signOut() }, icon('logout')),
    );
  }

  updateSettings(patch: Partial<Settings>): void {
    this.settings = { ...this.settings, ...patch };
    if (patch.fontSize !== undefined) this.settings.fontSize = clampFont(patch.fontSize);
    saveSettings(this.settings);
    applyTheme(themeById(this.settings.theme));
    this.view?.settingsChanged?.();
  }

  globalAction(a: Action): void {
    switch (a) {
      case 'font-bigger':
        this.updateSettings({ fontSize: this.settings.fontSize + 1 });
        break;
      case 'font-smaller':
        this.updateSettings({ fontSize: this.settings.fontSize - 1 });
        break;
      case 'font-reset':
        this.updateSettings({ fontSize: defaultSettings().fontSize });
        break;
      case 'help':
        this.showShortcuts();
        break;
      case 'workspaces':
        this.navigate('/');
        break;
      default:
        break;
    }
  }

  showShortcuts(): void {
    const rows = [...SHORTCUTS.map((s) => [s.keys, s.label] as [string, string]), ...OTHER_KEYS];
    const dlg = openDialog('Keyboard shortcuts', [
      h('table', { class: 'shortcuts' }, h('tbody', {}, rows.map(([k, l]) => h('tr', {}, h('th', { scope: 'row' }, h('kbd', {}, k)), h('td', {}, l))))),
      h('p', { class: 'muted' }, 'On phones, the key bar under the terminal adds Esc, Tab, a sticky Ctrl and arrows.'),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn primary', onclick: () => dlg.close() }, 'Close')),
    ]);
  }

  showSettings(): void {
    const s = this.settings;
    const theme = h('select', { id: 'set-theme' }, THEMES.map((t) => h('option', { value: t.id, selected: t.id === s.theme }, t.label)));
    const font = h('input', { type: 'number', id: 'set-font', min: 8, max: 32, value: s.fontSize });
    const sr = h('input', { type: 'checkbox', id: 'set-sr', checked: s.screenReader });
    const blink = h('input', { type: 'checkbox', id: 'set-blink', checked: s.cursorBlink });
    theme.addEventListener('change', () => this.updateSettings({ theme: theme.value }));
    font.addEventListener('change', () => this.updateSettings({ fontSize: Number(font.value) || 14 }));
    sr.addEventListener('change', () => this.updateSettings({ screenReader: sr.checked }));
    blink.addEventListener('change', () => this.updateSettings({ cursorBlink: blink.checked }));
    const dlg = openDialog('Settings', [
      h('label', { class: 'field' }, h('span', {}, 'Theme'), theme),
      h('label', { class: 'field' }, h('span', {}, 'Font size (Ctrl+Shift+. and Ctrl+Shift+,)'), font),
      h('label', { class: 'check' }, sr, h('span', {}, 'Screen reader mode'), h('small', { class: 'muted' }, ' — terminal output is read aloud and navigable as text')),
      h('label', { class: 'check' }, blink, h('span', {}, 'Blinking cursor')),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn primary', onclick: () => dlg.close() }, 'Done')),
    ]);
    theme.focus();
  }

  // ---- tests ----

  /** Probes for the end-to-end tests: reading the screen, and one way to
   * break the connection as a flaky network would. */
  private exposeTestHooks(): void {
    const wb = () => (this.view instanceof Workbench ? this.view : null);
    (window as any).__codeterm = Object.freeze({
      terminalText: (id?: string) => wb()?.terminalText(id) ?? (this.view instanceof SharedView ? this.view.terminalText() : ''),
      shownSessions: () => wb()?.shownSessions() ?? [],
      streamState: (id?: string) => wb()?.streamState(id) ?? null,
      terminalSize: (id?: string) => wb()?.terminalSize(id) ?? null,
      focusedSession: () => wb()?.focusedSession() ?? null,
      replayPlayer: () => (this.view instanceof ReplayView ? this.view.replayPlayer : null),
      workspaceId: () => wb()?.workspaceId() ?? null,
      connection: () => this.conn?.current.state ?? 'offline',
      commandMarks: (id?: string) => wb()?.commandMarks(id) ?? [],
      whenWritten: (marker: string, id?: string) => wb()?.whenWritten(marker, id) ?? Promise.reject(new Error('no workbench')),
      notifications: () => [...this.commands.shown],
      // Drops the transport as a network failure would; the app must
      // reconnect and resume on its own.
      dropConnection: () => this.conn?.socket.io.engine?.close(),
    });
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
