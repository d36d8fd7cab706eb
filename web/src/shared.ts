// A session someone shared with us, at /s/<sessionId>: one terminal, who is
// attached, our role. A viewer watches; an editor types into the owner's
// shell, which runs as the owner's account (the page says so).
import { listShared, type SharedSession } from './api';
import type { App, View } from './app';
import { openDialog } from './dialog';
import { fill, h } from './dom';
import { TermView, type OutputPayload } from './terminal';
import { themeById } from './theme';

interface Attendee {
  user: string;
  role: string;
  via: string;
}

export class SharedView implements View {
  readonly el: HTMLElement;
  private readonly info: HTMLElement;
  private readonly people: HTMLElement;
  private readonly note: HTMLElement;
  private readonly recBadge: HTMLElement;
  private readonly view: TermView;
  private readonly unsub: (() => void)[] = [];
  private gone = false;

  constructor(
    private readonly app: App,
    private readonly sessionId: string,
  ) {
    this.info = h('span', { class: 'shared-info' }, 'Shared session');
    this.people = h('ul', { class: 'shared-people', 'aria-label': 'Attached' });
    this.note = h('p', { class: 'shared-note', role: 'note' });
    this.recBadge = h('span', { class: 'badge warn rec-badge', hidden: true, title: 'This session is being recorded' }, '● recording');
    const conn = app.connection();
    this.view = new TermView(sessionId, conn, app.settings, themeById(app.settings.theme), {
      shortcut: () => false,
      transformInput: (d) => d,
      focused: () => {},
      // READ_ONLY is told by the app's terminal-error toast.
      inputError: (v, e) => {
        if (e.code === 'SESSION_NOT_FOUND') v.markEnded('no longer shared with you');
      },
      copied: (ok, how) => (ok ? app.toasts.ok(how) : app.toasts.error(how)),
    });
    this.el = h(
      'div',
      { class: 'screen shared' },
      app.header([h('span', { class: 'crumb' }, 'Shared with me')]),
      h('div', { class: 'shared-bar' }, this.info, this.recBadge, this.people),
      this.note,
      h('main', { class: 'shared-term', id: 'main', tabindex: -1 }, this.view.host),
    );
    const onStatus = (p: any) => {
      if (p?.sessionId !== sessionId) return;
      if (Array.isArray(p.users)) this.renderPeople(p.users);
      if (typeof p.recording === 'boolean') this.recBadge.hidden = !p.recording;
      if (p.status === 'terminated') this.end('the session has ended');
    };
    const onDetached = (p: any) => {
      if (p?.sessionId === sessionId && p.reason === 'unshared') void this.reattach();
    };
    const onExit = (p: any) => {
      if (p?.sessionId === sessionId) this.end('the session has ended');
    };
    conn.on('session-status', onStatus);
    conn.on('terminal-detached', onDetached);
    conn.on('process-exit', onExit);
    this.unsub.push(
      () => conn.off('session-status', onStatus),
      () => conn.off('terminal-detached', onDetached),
      () => conn.off('process-exit', onExit),
    );
    document.title = 'Shared session · codeterm';
    requestAnimationFrame(() => {
      this.view.open();
      void this.reattach();
    });
  }

  /** Attaches in whatever role we have now: the server detaches us when the
   * owner changes it or ends the share. */
  private async reattach(): Promise<void> {
    if (this.gone) return;
    let shared: SharedSession | undefined;
    try {
      shared = (await listShared()).find((s) => s.sessionId === this.sessionId);
    } catch (e) {
      this.app.apiFailed(e, 'Could not load the shared session');
      return;
    }
    if (!shared) {
      this.end('this session is not shared with you (or no longer)');
      return;
    }
    this.el.dataset.role = shared.role;
    fill(
      this.info,
      h('strong', {}, shared.name || shared.sessionId),
      ` · shared by ${shared.owner} · `,
      h('span', { class: `badge ${shared.role === 'editor' ? 'warn' : ''}`, 'data-role': shared.role }, shared.role),
    );
    this.note.textContent =
      shared.note ?? (shared.role === 'viewer' ? 'You are watching: your keystrokes are not sent.' : '');
    try {
      this.view.lastSeq = -1;
      await this.view.attach();
    } catch (e) {
      this.end((e as Error).message || 'could not attach');
    }
  }

  private renderPeople(users: Attendee[]): void {
    fill(
      this.people,
      users.map((u) => h('li', { class: 'shared-person', 'data-user': u.user }, `${u.user} `, h('span', { class: 'muted' }, `${u.role} · ${u.via}`))),
    );
  }

  private end(message: string): void {
    if (this.gone) return;
    this.gone = true;
    this.el.dataset.ended = 'true';
    this.view.markEnded(message);
  }

  /** For the browser tests (window.__codeterm). */
  terminalText(): string {
    return this.view.text();
  }

  output(p: OutputPayload): void {
    if (p.sessionId === this.sessionId) this.view.write(p);
  }

  resumed(): void {
    if (!this.gone) void this.reattach();
  }

  dispose(): void {
    for (const u of this.unsub) u();
    this.view.dispose(!this.gone);
  }
}

/** The "Shared with me" list for the workspace page: it loads itself and
 * follows invitations as they come and go. */
export function sharedWithMe(app: App, unsub: (() => void)[]): HTMLElement {
  const list = h('ul', { class: 'ws-items shared-list' });
  const section = h('section', { class: 'shared-with-me', hidden: true, 'aria-label': 'Shared with me' }, h('h2', {}, 'Shared with me'), list);
  const load = async () => {
    let items: SharedSession[];
    try {
      items = await listShared();
    } catch {
      return; // the workspace list reports the server's troubles
    }
    section.hidden = items.length === 0;
    fill(
      list,
      items.map((s) =>
        h(
          'li',
          { class: 'ws-item', 'data-session': s.sessionId },
          h('a', { class: 'ws-name', href: `/s/${encodeURIComponent(s.sessionId)}`, 'data-link': true }, s.name || s.sessionId),
          h('span', { class: 'muted' }, `by ${s.owner}`),
          h('span', { class: `badge ${s.role === 'editor' ? 'warn' : ''}`, title: s.note ?? '' }, s.role),
        ),
      ),
    );
  };
  const conn = app.connection();
  const reload = () => void load();
  for (const ev of ['session-shared', 'session-unshared']) {
    conn.on(ev, reload);
    unsub.push(() => conn.off(ev, reload));
  }
  void load();
  return section;
}

/** The owner's controls in the workbench header: a "recording" badge for
 * the focused session and a Share button with the invitation dialog. */
export function ownerControls(app: App, focused: () => string | null, unsub: (() => void)[]): HTMLElement[] {
  const recording = new Map<string, boolean>();
  const badge = h('span', { class: 'badge warn rec-badge', hidden: true, title: 'This session is being recorded' }, '● recording');
  const paint = () => {
    const id = focused();
    badge.hidden = !(id && recording.get(id));
  };
  const conn = app.connection();
  const onStatus = (p: any) => {
    if (typeof p?.sessionId !== 'string' || typeof p.recording !== 'boolean') return;
    recording.set(p.sessionId, p.recording);
    paint();
  };
  conn.on('session-status', onStatus);
  unsub.push(() => conn.off('session-status', onStatus));
  const timer = window.setInterval(paint, 500); // focus moves between panes without an event here
  unsub.push(() => window.clearInterval(timer));
  const button = h('button', {
    type: 'button',
    class: 'btn share-btn',
    onclick: () => {
      const id = focused();
      if (id) void shareDialog(app, id, recording.get(id) ?? false);
    },
  }, 'Share');
  return [badge, button];
}

async function shareDialog(app: App, sessionId: string, recording: boolean): Promise<void> {
  const conn = app.connection();
  const list = h('ul', { class: 'share-list' });
  const user = h('input', { type: 'text', name: 'user', autocomplete: 'off', required: true, 'aria-label': 'User' });
  const role = h('select', { name: 'role', 'aria-label': 'Role' }, h('option', { value: 'viewer' }, 'viewer: watches'), h('option', { value: 'editor' }, 'editor: types'));
  const hours = h('input', { type: 'number', min: '0', step: '1', value: '0', name: 'ttl', 'aria-label': 'Expires after (hours, 0 = never)' });
  const note = h('p', { class: 'shared-note' });
  const showNote = () => (note.textContent = role.value === 'editor' ? `${editorWarning}` : '');
  role.addEventListener('change', showNote);
  const refresh = async () => {
    try {
      const r = await conn.request('list-shares', { sessionId });
      fill(
        list,
        (r.shares as { user: string; role: string; expiresAt?: string }[]).map((s) =>
          h('li', { 'data-user': s.user }, `${s.user} · ${s.role}${s.expiresAt ? ` · until ${new Date(s.expiresAt).toLocaleString()}` : ''} `,
            h('button', { type: 'button', class: 'link-btn', onclick: () => void unshare(s.user) }, 'Remove')),
        ),
      );
    } catch (e) {
      fill(list, h('li', { class: 'error' }, (e as Error).message));
    }
  };
  const unshare = async (name: string) => {
    try {
      await conn.request('unshare-session', { sessionId, user: name });
    } catch (e) {
      app.toasts.error('Could not unshare', (e as Error).message);
    }
    void refresh();
  };
  const invite = async () => {
    try {
      await conn.request('share-session', { sessionId, user: user.value.trim(), role: role.value, ttl: Math.round((Number(hours.value) || 0) * 3600) });
      app.toasts.ok(`Shared with ${user.value.trim()}: they open /s/${sessionId} or ssh USER@host @${sessionId}`);
      user.value = '';
    } catch (e) {
      app.toasts.error('Could not share', (e as Error).message);
    }
    void refresh();
  };
  const rec = h('input', { type: 'checkbox', checked: recording, 'aria-label': 'Record this session' });
  rec.addEventListener('change', async () => {
    try {
      await conn.request('record-session', { sessionId, on: rec.checked });
    } catch (e) {
      rec.checked = !rec.checked;
      app.toasts.error('Recording', (e as Error).message);
    }
  });
  const replay = h('a', { href: `/r/${encodeURIComponent(sessionId)}`, 'data-link': true }, 'Replay the recording');
  const dlg = openDialog('Share this session', [
    h('label', { class: 'field' }, h('span', {}, 'User'), user),
    h('label', { class: 'field' }, h('span', {}, 'Role'), role),
    h('label', { class: 'field' }, h('span', {}, 'Expires after (hours, 0 = never)'), hours),
    note,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn primary', onclick: () => void invite() }, 'Invite')),
    h('h3', {}, 'Shared with'),
    list,
    h('label', { class: 'field-inline' }, rec, ' Record this session (everyone attached sees a badge)'),
    h('p', {}, replay),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => dlg.close() }, 'Close')),
  ]);
  replay.addEventListener('click', () => dlg.close());
  void refresh();
}

const editorWarning = "An editor types into your shell, which runs as your account: they can do anything you can.";
