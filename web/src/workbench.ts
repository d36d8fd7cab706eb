// The workspace screen: session tabs, split panes of terminals, the side
// panel and the phone key bar, kept in step with the server's sessions.
import { ApiError, listWorkspaces, normalizeTerminal, type TerminalInfo, type Workspace } from './api';
import type { App, View } from './app';
import { confirmDialog, promptDialog } from './dialog';
import { fill, h, icon, plural } from './dom';
import { EditorArea } from './editor';
import { FileClient } from './fileapi';
import { FileTree } from './filetree';
import { KeyBar, matchShortcut, type Action } from './keys';
import { Panes, type Dir, type Layout, type Leaf } from './panes';
import { ownerControls } from './shared';
import { SidePanel, sidePanelToggle } from './sidepanel';
import { sessionLabel, Tabs } from './tabs';
import { SEARCH_DECORATIONS, TermView, type OutputPayload } from './terminal';
import { themeById } from './theme';

const PENDING_MAX = 256;
const PENDING_TTL_MS = 10_000;

export class Workbench implements View {
  readonly el: HTMLElement;
  private ws: Workspace | null = null;
  private sessions: TerminalInfo[] = [];
  private readonly panes: Panes;
  private readonly tabs: Tabs;
  private side: SidePanel | null = null;
  private tree: FileTree | null = null;
  private editor: EditorArea | null = null;
  private readonly fileTabsHost = h('div', { class: 'file-tabs-host' });
  private readonly editorHost = h('div', { class: 'editor-wrap' });
  private readonly sideHost: HTMLElement;
  private readonly keybar: KeyBar;
  private readonly searchBar: HTMLFormElement;
  private readonly searchInput: HTMLInputElement;
  private readonly searchCount: HTMLElement;
  private readonly sideToggle: HTMLButtonElement;
  private readonly crumb: HTMLElement;
  private readonly body: HTMLElement;
  /** Output for sessions no view holds yet: a just-created terminal's first
   * bytes can beat the ack that tells us its id. */
  private pending = new Map<string, { at: number; chunks: OutputPayload[] }>();
  private listQueued = 0;
  private readonly unsub: (() => void)[] = [];
  private disposed = false;

  constructor(
    private readonly app: App,
    private readonly name: string,
    private readonly wantSession: string | null,
  ) {
    this.panes = new Panes({
      focusLeaf: (leaf) => this.focusLeaf(leaf, false),
      resized: () => this.fitAll(),
    });
    this.tabs = new Tabs({
      select: (id) => this.selectSession(id),
      kill: (id) => void this.kill(id),
      rename: (id) => void this.rename(id),
    });
    this.keybar = new KeyBar((data) => this.focusedView()?.sendRaw(data));

    this.searchInput = h('input', { type: 'search', 'aria-label': 'Search the terminal', placeholder: 'Search', spellcheck: 'false' });
    this.searchCount = h('span', { class: 'search-count', 'aria-live': 'polite' });
    this.searchBar = h(
      'form',
      { class: 'searchbar', role: 'search', hidden: true },
      this.searchInput,
      this.searchCount,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Previous match (Shift+Enter)', onclick: () => this.find(-1) }, '↑'),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Next match (Enter)', onclick: () => this.find(1) }, '↓'),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close search (Esc)', onclick: () => this.closeSearch() }, icon('x')),
    );
    this.searchBar.addEventListener('submit', (e) => {
      e.preventDefault();
      this.find(1);
    });
    this.searchInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.find(e.shiftKey ? -1 : 1);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        this.closeSearch();
      }
    });
    this.searchInput.addEventListener('input', () => this.find(0));

    this.sideHost = h('div', { class: 'side-host', id: 'side-panel' });
    this.sideToggle = sidePanelToggle(() => this.toggleSide(), app.settings.sidePanel);
    this.sideToggle.setAttribute('aria-controls', 'side-panel');
    this.crumb = h('span', { class: 'crumb' }, name);

    const tool = (label: string, keys: string, ic: string, fn: () => void) =>
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': `${label} (${keys})`, title: `${label} (${keys})`, onclick: fn }, icon(ic));
    const toolbar = h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Terminal actions' },
      tool('New terminal', 'Ctrl+Shift+E', 'plus', () => this.action('new-terminal')),
      tool('Split right', 'Ctrl+Shift+D', 'splitRight', () => this.action('split-right')),
      tool('Split down', 'Ctrl+Shift+S', 'splitDown', () => this.action('split-down')),
      tool('Search', 'Ctrl+Shift+F', 'search', () => this.action('search')),
      tool('Copy selection', 'Ctrl+Shift+C', 'copy', () => this.focusedView()?.copySelection()),
      tool('Paste', 'Ctrl+Shift+V', 'paste', () => void this.focusedView()?.pasteFromClipboard()),
      tool('Rename session', 'F2', 'pencil', () => this.action('rename')),
    );
    this.body = h('div', { class: 'work-body' }, h('div', { class: 'panes-wrap', id: 'main' }, this.panes.el, this.editorHost, this.searchBar), this.sideHost);
    this.el = h(
      'div',
      { class: 'screen workbench' },
      app.header([h('span', { class: 'sep', 'aria-hidden': 'true' }, '/'), this.crumb], [...ownerControls(app, () => this.focusedSession(), this.unsub), this.sideToggle]),
      h('nav', { class: 'tabbar', 'aria-label': 'Sessions' }, this.tabs.el, this.fileTabsHost, toolbar),
      this.body,
      this.keybar.el,
    );
    this.body.classList.toggle('side-open', app.settings.sidePanel);
    this.sideHost.hidden = !app.settings.sidePanel;
    this.el.addEventListener('offline-input', () => app.flashConnection());

    const conn = app.connection();
    const on = (ev: string, fn: (p: any) => void) => {
      conn.on(ev, fn);
      this.unsub.push(() => conn.off(ev, fn));
    };
    on('session-status', (p) => this.onSessionStatus(p));
    on('process-exit', (p) => this.onExit(p?.sessionId, exitText(p)));
    on('terminal-killed', (p) => this.onExit(p?.sessionId, 'session killed'));
    on('terminals-listed', (p) => p?.workspaceId === this.ws?.id && this.setSessions(p.terminals));
    on('workspace-deleted', (p) => {
      if (p?.workspaceId === this.ws?.id) {
        app.toasts.info(`Workspace ${this.name} was deleted`);
        app.navigate('/');
      }
    });
    void this.open();
  }

  // ---- lifecycle ----

  private async open(): Promise<void> {
    let all: Workspace[];
    try {
      all = await listWorkspaces();
    } catch (e) {
      this.app.apiFailed(e, 'Could not load your workspaces');
      return;
    }
    if (this.disposed) return;
    const ws = all.find((w) => w.name === this.name) ?? all.find((w) => w.id === this.name);
    if (!ws) {
      fill(
        this.body,
        h(
          'main',
          { class: 'notfound', id: 'main' },
          h('h1', {}, `No workspace named “${this.name}”`),
          h('p', {}, 'It may have been deleted, or the link has a typo.'),
          h('a', { href: '/', class: 'btn primary', 'data-link': true }, 'All workspaces'),
        ),
      );
      return;
    }
    this.ws = ws;
    document.title = `${ws.name} · codeterm`;
    this.side = new SidePanel(this.app, ws.id);
    const conn = this.app.connection();
    this.openFiles(conn, ws.id);
    this.sideHost.append(this.side.el);
    await conn.request('join-workspace', { workspaceId: ws.id }).catch(() => {});
    await this.listSessionsNow();
    if (this.disposed) return;

    const saved = this.loadLayout();
    const running = this.sessions.filter((s) => s.status !== 'terminated');
    const known = (id: string | null) => !!id && running.some((s) => s.sessionId === id);
    if (saved && (!this.wantSession || layoutHas(saved, this.wantSession))) {
      const wanted = this.panes.restore(saved);
      for (const { leaf, sessionId } of wanted) {
        if (known(sessionId)) void this.show(leaf, sessionId!);
        else this.emptyPane(leaf);
      }
      const target = this.wantSession ? this.panes.leafOf(this.wantSession) : undefined;
      this.focusLeaf(target ?? this.panes.focused, true);
      return;
    }
    if (this.wantSession) {
      if (known(this.wantSession)) {
        await this.show(this.panes.focused, this.wantSession);
        this.focusLeaf(this.panes.focused, true);
        return;
      }
      this.app.toasts.error('That terminal session is not running any more', 'Showing the workspace’s main terminal instead.');
    }
    // The primary terminal is the one `ssh host WORKSPACE` joins: the
    // oldest running session, or a new one.
    const primary = [...running].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))[0];
    if (primary) await this.show(this.panes.focused, primary.sessionId);
    else await this.newTerminal(this.panes.focused);
    this.focusLeaf(this.panes.focused, true);
  }

  dispose(): void {
    this.disposed = true;
    window.clearTimeout(this.listQueued);
    for (const u of this.unsub) u();
    for (const l of this.panes.leaves()) l.view?.dispose(true);
    this.side?.dispose();
    this.tree?.dispose();
    this.editor?.dispose();
    if (this.ws && this.app.connection().connected) this.app.connection().send('leave-workspace', { workspaceId: this.ws.id });
  }

  /** Back after a dropped connection: rejoin and resume every terminal
   * from the last byte it showed. */
  resumed(): void {
    if (!this.ws) return;
    const conn = this.app.connection();
    void conn.request('join-workspace', { workspaceId: this.ws.id }).catch(() => {});
    for (const l of this.panes.leaves()) {
      const v = l.view;
      if (!v || v.ended) continue;
      v.attached = false;
      v.attach().catch((e: ApiError) => {
        if (e.code === 'SESSION_NOT_FOUND' || e.code === 'SESSION_TERMINATED') v.markEnded('session ended while you were away');
      });
    }
    this.listSessions();
    this.side?.refresh();
    this.tree?.refresh();
  }

  disconnected(): void {
    for (const l of this.panes.leaves()) if (l.view) l.view.attached = false;
  }

  settingsChanged(): void {
    const theme = themeById(this.app.settings.theme);
    for (const l of this.panes.leaves()) l.view?.applySettings(this.app.settings, theme);
  }

  output(p: OutputPayload): void {
    const v = this.viewOf(p.sessionId);
    if (v) {
      v.write(p);
      return;
    }
    const now = Date.now();
    for (const [id, e] of this.pending) if (now - e.at > PENDING_TTL_MS) this.pending.delete(id);
    const e = this.pending.get(p.sessionId) ?? { at: now, chunks: [] };
    if (e.chunks.length < PENDING_MAX) e.chunks.push(p);
    this.pending.set(p.sessionId, e);
  }

  // ---- test hooks (window.__codeterm) ----

  terminalText(sessionId?: string): string {
    const v = sessionId ? this.viewOf(sessionId) : this.focusedView();
    return v ? v.text() : '';
  }

  streamState(sessionId?: string): {
    lastSeq: number; repaints: number; recent: [number, number, string][]; forms: { bytes: number; strings: number };
  } | null {
    const v = sessionId ? this.viewOf(sessionId) : this.focusedView();
    return v ? { lastSeq: v.lastSeq, repaints: v.repaints, recent: [...v.recent], forms: { ...v.forms } } : null;
  }

  whenWritten(marker: string, sessionId?: string): Promise<void> {
    const v = sessionId ? this.viewOf(sessionId) : this.focusedView();
    return v ? v.whenWritten(marker) : Promise.reject(new Error('no terminal'));
  }

  commandMarks(sessionId?: string): { line: number; exitCode: number | null }[] {
    const v = sessionId ? this.viewOf(sessionId) : this.focusedView();
    return v ? v.commandMarks() : [];
  }

  terminalSize(sessionId?: string): { cols: number; rows: number } | null {
    const v = sessionId ? this.viewOf(sessionId) : this.focusedView();
    return v ? { cols: v.term.cols, rows: v.term.rows } : null;
  }

  shownSessions(): string[] {
    return this.panes.leaves().map((l) => l.view?.sessionId ?? '');
  }

  focusedSession(): string | null {
    return this.focusedView()?.sessionId ?? null;
  }

  workspaceId(): string | null {
    return this.ws?.id ?? null;
  }

  // ---- sessions ----

  private listSessions(): void {
    window.clearTimeout(this.listQueued);
    this.listQueued = window.setTimeout(() => void this.listSessionsNow(), 150);
  }

  private async listSessionsNow(): Promise<void> {
    if (!this.ws) return;
    try {
      const r: any = await this.app.connection().request('list-terminals', { workspaceId: this.ws.id });
      this.setSessions(r?.terminals ?? []);
    } catch {
      /* shown by the error event */
    }
  }

  private setSessions(list: any[]): void {
    const all = (list ?? []).map(normalizeTerminal);
    // Oldest first, so tabs keep their places as sessions come and go.
    all.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    this.sessions = all;
    this.renderTabs();
  }

  private renderTabs(): void {
    const shown = new Set(this.shownSessions().filter(Boolean));
    const active = this.focusedSession();
    // A session in a pane is listed even before the server's list has it.
    const list = [...this.sessions];
    for (const id of shown) if (!list.some((s) => s.sessionId === id)) list.push(placeholder(id));
    this.tabs.update(list, shown, active);
    for (const l of this.panes.leaves()) {
      if (!l.view) continue;
      const i = list.findIndex((s) => s.sessionId === l.view!.sessionId);
      const s = list[i];
      if (s) this.panes.setHeader(l, sessionLabel(s, i), `${plural(s.viewers ?? 0, 'viewer')}${s.cols ? ` · ${s.cols}×${s.rows}` : ''}`);
    }
  }

  private onSessionStatus(p: any): void {
    if (!this.ws || (p?.workspaceId && p.workspaceId !== this.ws.id)) return;
    if (p?.status === 'terminated') this.viewOf(p.sessionId)?.markEnded(exitText(p));
    else this.viewOf(p?.sessionId)?.adoptSize(Number(p?.cols), Number(p?.rows));
    this.listSessions(); // session-status also reports attach and detach: viewer counts
  }

  private onExit(sessionId: string | undefined, text: string): void {
    if (!sessionId) return;
    this.viewOf(sessionId)?.markEnded(text);
    this.listSessions();
  }

  // ---- panes and views ----

  private viewOf(sessionId: string): TermView | undefined {
    return this.panes.leafOf(sessionId)?.view ?? undefined;
  }

  private focusedView(): TermView | null {
    return this.panes.focused.view;
  }

  private makeView(sessionId: string): TermView {
    const v = this.newView(sessionId);
    v.search.onDidChangeResults(({ resultIndex, resultCount }) => {
      if (v !== this.focusedView()) return;
      this.searchCount.textContent = resultCount ? `${resultIndex + 1} of ${resultCount}` : this.searchInput.value ? 'no matches' : '';
    });
    return v;
  }

  private newView(sessionId: string): TermView {
    return new TermView(sessionId, this.app.connection(), this.app.settings, themeById(this.app.settings.theme), {
      shortcut: (e) => {
        const a = matchShortcut(e);
        if (!a) return false;
        this.action(a);
        return true;
      },
      transformInput: (d) => this.keybar.transform(d),
      focused: () => {},
      inputError: (_v, e) => {
        if (e.code === 'SESSION_NOT_FOUND' || e.code === 'SESSION_TERMINATED') _v.markEnded('session ended');
      },
      copied: (ok, how) => (ok ? this.app.toasts.ok(how) : this.app.toasts.error(how)),
    });
  }

  /** Puts a session in a pane, replacing what was there. */
  private async show(leaf: Leaf, sessionId: string): Promise<void> {
    if (leaf.view?.sessionId === sessionId) return;
    const other = this.panes.leafOf(sessionId);
    if (other && other !== leaf) {
      // One view per session per page: move focus there instead.
      this.focusLeaf(other, true);
      return;
    }
    leaf.view?.dispose(true);
    const v = this.makeView(sessionId);
    this.place(leaf, v);
    this.drainPending(v);
    try {
      await v.attach();
    } catch (e) {
      const err = e as ApiError;
      v.markEnded(`cannot attach: ${err.message}`);
    }
    this.afterChange();
  }

  private place(leaf: Leaf, v: TermView): void {
    leaf.view = v;
    leaf.body.replaceChildren(v.host);
    v.open();
  }

  private drainPending(v: TermView): void {
    const e = this.pending.get(v.sessionId);
    if (!e) return;
    this.pending.delete(v.sessionId);
    for (const c of e.chunks) v.write(c);
  }

  private async newTerminal(leaf: Leaf): Promise<void> {
    if (!this.ws) return;
    // Measure in place first so the shell starts at the size it will be shown.
    leaf.view?.dispose(true);
    const v = this.makeView('');
    this.place(leaf, v);
    v.fit();
    try {
      const r: any = await this.app.connection().request('create-terminal', { workspaceId: this.ws.id, cols: v.term.cols, rows: v.term.rows });
      v.bind(r.sessionId);
      v.startedAtZero();
      this.drainPending(v);
      // Our size may have changed while the shell started.
      v.resendSize();
    } catch (e) {
      v.dispose(false);
      leaf.view = null;
      this.emptyPane(leaf, `Could not start a terminal: ${(e as Error).message}`);
    }
    this.listSessions();
    this.afterChange();
  }

  private emptyPane(leaf: Leaf, message?: string): void {
    leaf.view?.dispose(true);
    leaf.view = null;
    const running = this.sessions.filter((s) => s.status !== 'terminated' && !this.panes.leafOf(s.sessionId));
    fill(
      leaf.body,
      h(
        'div',
        { class: 'pane-empty' },
        message ? h('p', { class: 'error' }, message) : h('p', {}, 'No terminal here.'),
        h('button', { type: 'button', class: 'btn primary', onclick: () => void this.newTerminal(leaf) }, icon('plus'), 'New terminal'),
        running.length ? h('p', { class: 'muted' }, 'or show a running session:') : null,
        running.map((s) => h('button', { type: 'button', class: 'btn', onclick: () => void this.show(leaf, s.sessionId).then(() => this.focusLeaf(leaf, true)) }, sessionLabel(s, this.sessions.indexOf(s)))),
      ),
    );
    this.afterChange();
  }

  private focusLeaf(leaf: Leaf, moveFocus: boolean): void {
    this.panes.setFocused(leaf);
    if (moveFocus) leaf.view?.focus();
    this.renderTabs();
    this.syncUrl();
    // The most recently active client's size wins on the server; say ours.
    leaf.view?.resendSize();
  }

  private selectSession(id: string): void {
    this.editor?.hide();
    const leaf = this.panes.leafOf(id);
    if (leaf) this.focusLeaf(leaf, true);
    else void this.show(this.panes.focused, id).then(() => this.focusLeaf(this.panes.focused, true));
  }

  private async split(dir: Dir): Promise<void> {
    const leaf = this.panes.split(this.panes.focused, dir);
    this.panes.setFocused(leaf);
    await this.newTerminal(leaf);
    this.focusLeaf(leaf, true);
  }

  private closePane(): void {
    const leaf = this.panes.focused;
    if (this.panes.leaves().length === 1) {
      this.app.toasts.info('This is the only pane', 'Kill the session from its tab if you want it gone.');
      return;
    }
    leaf.view?.dispose(true);
    leaf.view = null;
    const next = this.panes.close(leaf);
    this.focusLeaf(next, true);
    this.afterChange();
  }

  private async kill(id: string): Promise<void> {
    const s = this.sessions.find((x) => x.sessionId === id);
    const label = s ? sessionLabel(s, this.sessions.indexOf(s)) : 'this session';
    const others = Math.max(0, (s?.viewers ?? 0) - (this.panes.leafOf(id) ? 1 : 0));
    const ok = await confirmDialog(
      `Kill ${label}?`,
      `The shell and everything running in it will be stopped${others ? `, for the ${plural(others, 'other viewer')} too` : ''}.`,
      'Kill session',
    );
    if (!ok) return;
    try {
      await this.app.connection().request('kill-terminal', { sessionId: id });
    } catch {
      return; // the terminal-error event has been shown
    }
    const leaf = this.panes.leafOf(id);
    if (leaf) {
      if (this.panes.leaves().length > 1) {
        leaf.view?.dispose(false);
        leaf.view = null;
        this.focusLeaf(this.panes.close(leaf), true);
      } else {
        this.emptyPane(leaf);
      }
    }
    this.listSessions();
  }

  private async rename(id?: string): Promise<void> {
    const sid = id ?? this.focusedSession();
    if (!sid) return;
    const s = this.sessions.find((x) => x.sessionId === sid);
    const name = await promptDialog('Rename session', 'Name', s?.name || '', 'Rename');
    if (name === null) return;
    try {
      await this.app.connection().request('rename-terminal', { sessionId: sid, name });
      this.listSessions();
    } catch {
      /* shown by the error event */
    }
    this.focusedView()?.focus();
  }

  private cycleTab(step: 1 | -1): void {
    const running = this.sessions.filter((s) => s.status !== 'terminated');
    if (!running.length) return;
    const cur = running.findIndex((s) => s.sessionId === this.focusedSession());
    for (let k = 1; k <= running.length; k++) {
      const s = running[(cur + step * k + running.length * 2) % running.length];
      if (!this.panes.leafOf(s.sessionId)) {
        void this.show(this.panes.focused, s.sessionId).then(() => this.focusLeaf(this.panes.focused, true));
        return;
      }
    }
  }

  action(a: Action): void {
    switch (a) {
      case 'new-terminal':
        void this.newTerminal(this.panes.focused).then(() => this.focusLeaf(this.panes.focused, true));
        return;
      case 'split-right':
        void this.split('row');
        return;
      case 'split-down':
        void this.split('column');
        return;
      case 'close-pane':
        this.closePane();
        return;
      case 'next-pane':
      case 'prev-pane':
        this.focusLeaf(this.panes.neighbour(this.panes.focused, a === 'next-pane' ? 1 : -1), true);
        return;
      case 'next-tab':
      case 'prev-tab':
        this.cycleTab(a === 'next-tab' ? 1 : -1);
        return;
      case 'search':
        this.openSearch();
        return;
      case 'rename':
        void this.rename();
        return;
      case 'side-panel':
        this.toggleSide();
        return;
      case 'focus-tabs':
        // The way out of a terminal for keyboard users: Tab belongs to the shell.
        (this.tabs.el.querySelector<HTMLElement>('[role=tab][tabindex="0"]') ?? this.tabs.el.querySelector<HTMLElement>('[role=tab]'))?.focus();
        return;
      default:
        this.app.globalAction(a);
    }
  }

  private toggleSide(): void {
    const open = !this.app.settings.sidePanel;
    this.app.updateSettings({ sidePanel: open });
    this.sideHost.hidden = !open;
    this.body.classList.toggle('side-open', open);
    this.sideToggle.setAttribute('aria-pressed', String(open));
    if (open) this.side?.refresh();
    this.fitAll();
  }

  // ---- search ----

  private openSearch(): void {
    this.searchBar.hidden = false;
    const sel = this.focusedView()?.term.getSelection();
    if (sel && !sel.includes('\n')) this.searchInput.value = sel;
    this.searchInput.focus();
    this.searchInput.select();
  }

  private find(dir: -1 | 0 | 1): void {
    const v = this.focusedView();
    const q = this.searchInput.value;
    if (!v) return;
    if (!q) {
      v.search.clearDecorations();
      this.searchCount.textContent = '';
      return;
    }
    const opts = { decorations: SEARCH_DECORATIONS, incremental: dir === 0 };
    const found = dir < 0 ? v.search.findPrevious(q, opts) : v.search.findNext(q, opts);
    if (!found) this.searchCount.textContent = 'no matches';
  }

  private closeSearch(): void {
    this.searchBar.hidden = true;
    this.searchCount.textContent = '';
    const v = this.focusedView();
    v?.search.clearDecorations();
    v?.term.clearSelection();
    v?.focus();
  }

  // ---- bookkeeping ----

  /** The file tree in the side panel and the editor tabs beside the
   * terminal tabs. They get the connection, not the app. */
  private openFiles(conn: ReturnType<App['connection']>, workspaceId: string): void {
    const client = new FileClient(conn, workspaceId);
    const editor = new EditorArea(client, this.app.toasts, {
      shown: (on) => {
        this.panes.el.hidden = on;
        this.el.classList.toggle('editing', on);
        if (!on) {
          this.fitAll();
          this.focusLeaf(this.panes.focused, true);
        }
      },
      dark: () => themeById(this.app.settings.theme).dark,
    });
    const tree = new FileTree(client, this.app.toasts, {
      open: (path) => {
        void editor.open(path);
        // On a phone the drawer covers the editor: close it.
        if (window.matchMedia('(max-width: 720px)').matches && this.app.settings.sidePanel) this.toggleSide();
      },
      moved: (from, to) => editor.moved(from, to),
    });
    this.editor = editor;
    this.tree = tree;
    this.fileTabsHost.append(editor.tabsEl);
    this.editorHost.append(editor.el);
    this.sideHost.append(tree.el);
    const on = (ev: string, fn: (p: any) => void) => {
      conn.on(ev, fn);
      this.unsub.push(() => conn.off(ev, fn));
    };
    on('file-changed', (p) => {
      if (p?.workspaceId !== workspaceId || typeof p.path !== 'string') return;
      tree.fileChanged(p.path);
      editor.fileChanged(p.path, String(p.type ?? 'modified'));
    });
  }

  private fitAll(): void {
    // Panes reports sizes from its own constructor, before this.panes is set.
    for (const l of this.panes?.leaves() ?? []) l.view?.queueFit();
  }

  private afterChange(): void {
    this.renderTabs();
    this.syncUrl();
    this.saveLayout();
  }

  private syncUrl(): void {
    if (!this.ws || this.disposed) return;
    const id = this.focusedSession();
    const path = `/w/${encodeURIComponent(this.ws.name)}${id ? `/${encodeURIComponent(id)}` : ''}`;
    if (location.pathname !== path) history.replaceState(history.state, '', path);
  }

  private layoutKey(): string {
    return `codeterm.layout.${this.ws?.id}`;
  }

  private saveLayout(): void {
    if (!this.ws) return;
    try {
      sessionStorage.setItem(this.layoutKey(), JSON.stringify(this.panes.layout()));
    } catch {
      /* no storage: a reload shows one pane */
    }
  }

  private loadLayout(): Layout | null {
    try {
      const raw = sessionStorage.getItem(this.layoutKey());
      const l = raw ? (JSON.parse(raw) as Layout) : null;
      // A single pane needs no restoring; the URL says which session.
      return l && !('s' in l) ? l : null;
    } catch {
      return null;
    }
  }
}

function layoutHas(l: Layout, id: string): boolean {
  return 's' in l ? l.s === id : layoutHas(l.a, id) || layoutHas(l.b, id);
}

function placeholder(id: string): TerminalInfo {
  return { sessionId: id, name: '', shell: '', pid: 0, cols: 0, rows: 0, status: 'active', attached: 1, viewers: 1, createdAt: new Date().toISOString(), lastActivity: '' };
}

function exitText(p: any): string {
  if (p?.signal) return `process ended by signal ${p.signal}`;
  if (typeof p?.exitCode === 'number') return `process exited with code ${p.exitCode}`;
  return 'session ended';
}
