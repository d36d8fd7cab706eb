// Editor tabs beside the terminal tabs: each open file is a tab; the
// active one covers the terminal panes. CodeMirror comes from a chunk
// loaded on first use (cm.ts).
import { ApiError } from './api';
import { openDialog } from './dialog';
import { h, icon } from './dom';
import type { FileClient } from './fileapi';
import type { Toasts } from './toasts';

type CM = typeof import('./cm');
let cmModule: Promise<CM> | null = null;
const loadCM = () => (cmModule ??= import('./cm'));

interface OpenFile {
  path: string;
  sha256: string;
  dirty: boolean;
  editor: import('./cm').Editor | null;
  host: HTMLElement;
  tab: HTMLElement;
  /** Changed on disk while we held unsaved edits. */
  stale: boolean;
}

export interface EditorHooks {
  /** An editor became the visible thing (true) or the terminals did (false). */
  shown(editor: boolean): void;
  dark(): boolean;
}

export class EditorArea {
  readonly tabsEl: HTMLElement;
  readonly el: HTMLElement;
  private readonly files = new Map<string, OpenFile>();
  private active: string | null = null;

  constructor(
    private readonly client: FileClient,
    private readonly toasts: Toasts,
    private readonly hooks: EditorHooks,
  ) {
    this.tabsEl = h('div', { class: 'tabs file-tabs', role: 'tablist', 'aria-label': 'Open files' });
    this.el = h('div', { class: 'editor-area', hidden: true });
    window.addEventListener('beforeunload', this.warnUnsaved);
  }

  private readonly warnUnsaved = (e: BeforeUnloadEvent) => {
    if (this.dirtyCount() > 0) e.preventDefault();
  };

  get visible(): boolean {
    return this.active !== null;
  }

  /** Opens path in a tab (or shows its tab) and focuses the editor. */
  async open(path: string): Promise<void> {
    let f = this.files.get(path);
    if (!f) {
      const host = h('div', { class: 'editor-host', role: 'tabpanel', 'aria-label': `Editor: ${path}` });
      const tab = this.makeTab(path);
      f = { path, sha256: '', dirty: false, editor: null, host, tab, stale: false };
      this.files.set(path, f);
      this.tabsEl.append(tab);
      this.el.append(host);
      host.append(h('p', { class: 'muted editor-loading' }, `Opening ${path}…`));
      this.show(path);
      try {
        const [r, cm] = await Promise.all([this.client.read(path), loadCM()]);
        if (r.encoding !== 'utf8' || typeof r.content !== 'string') {
          throw new ApiError('NOT_TEXT', `${path} is not a text file; download it instead`);
        }
        const file = f;
        file.sha256 = r.sha256;
        host.replaceChildren();
        file.editor = cm.createEditor(host, path, r.content, this.hooks.dark(), {
          changed: (dirty) => this.setDirty(file, dirty),
          save: () => void this.save(file.path),
        });
      } catch (e) {
        this.close(path, true);
        this.toasts.error(`Could not open ${path}`, (e as Error).message);
        return;
      }
    }
    this.show(path);
    f.editor?.focus();
  }

  /** Brings an open file to the front. */
  show(path: string): void {
    this.active = path;
    for (const f of this.files.values()) {
      const on = f.path === path;
      f.host.hidden = !on;
      const b = tabButton(f.tab);
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      f.tab.classList.toggle('active', on);
    }
    this.el.hidden = false;
    this.hooks.shown(true);
  }

  /** The terminals are shown again (a terminal tab was chosen). */
  hide(): void {
    if (this.active === null) return;
    this.active = null;
    this.el.hidden = true;
    for (const f of this.files.values()) {
      tabButton(f.tab).setAttribute('aria-selected', 'false');
      f.tab.classList.remove('active');
    }
    this.hooks.shown(false);
  }

  async save(path: string): Promise<void> {
    const f = this.files.get(path);
    if (!f?.editor) return;
    const text = f.editor.text();
    try {
      const r = await this.client.write(path, text, f.sha256 || undefined);
      f.sha256 = r.sha256;
      f.stale = false;
      if (f.editor.text() === text) f.editor.markClean();
      this.toasts.ok(`Saved ${path}`);
    } catch (e) {
      const err = e as ApiError;
      if (err.code === 'FILE_CONFLICT') {
        await this.conflict(f, text);
        return;
      }
      this.toasts.error(`Could not save ${path}`, err.message);
    }
  }

  /** The file changed on disk since we read it: the person chooses. */
  private conflict(f: OpenFile, text: string): Promise<void> {
    return new Promise((resolve) => {
      const overwrite = h('button', { type: 'button', class: 'btn danger' }, 'Overwrite with mine');
      const reload = h('button', { type: 'button', class: 'btn' }, 'Discard mine and reload');
      const cancel = h('button', { type: 'button', class: 'btn primary' }, 'Keep editing');
      const dlg = openDialog(
        `${f.path} changed on disk`,
        [
          h('p', {}, 'Someone (or something in a terminal) changed this file after you opened it. Saving now would overwrite their changes.'),
          h('div', { class: 'dialog-actions' }, cancel, reload, overwrite),
        ],
        { onClose: () => resolve() },
      );
      dlg.classList.add('conflict-dialog');
      cancel.addEventListener('click', () => dlg.close());
      reload.addEventListener('click', () => {
        dlg.close();
        void this.reload(f);
      });
      overwrite.addEventListener('click', async () => {
        dlg.close();
        try {
          const r = await this.client.write(f.path, text);
          f.sha256 = r.sha256;
          f.stale = false;
          if (f.editor?.text() === text) f.editor.markClean();
          this.toasts.ok(`Saved ${f.path}`);
        } catch (e) {
          this.toasts.error(`Could not save ${f.path}`, (e as Error).message);
        }
      });
      cancel.focus();
    });
  }

  private async reload(f: OpenFile): Promise<void> {
    try {
      const r = await this.client.read(f.path);
      if (typeof r.content !== 'string') return;
      f.sha256 = r.sha256;
      f.stale = false;
      f.editor?.reset(r.content);
    } catch (e) {
      this.toasts.error(`Could not reload ${f.path}`, (e as Error).message);
    }
  }

  /** A file-changed event: a clean open file follows the disk; a dirty one
   * is marked so the person knows a save will ask first. */
  fileChanged(path: string, type: string): void {
    const f = this.files.get(path);
    if (!f || !f.editor) return;
    if (type === 'deleted') {
      f.stale = true;
      this.setDirty(f, f.dirty);
      return;
    }
    if (!f.dirty) {
      void this.client.read(path).then(
        (r) => {
          if (r.sha256 !== f.sha256 && typeof r.content === 'string' && !f.dirty) {
            f.sha256 = r.sha256;
            f.editor?.reset(r.content);
          }
        },
        () => {},
      );
    } else {
      f.stale = true;
      this.setDirty(f, true);
    }
  }

  /** A path was renamed or deleted from the tree. */
  moved(from: string, to: string | null): void {
    for (const f of [...this.files.values()]) {
      if (f.path !== from && !f.path.startsWith(from + '/')) continue;
      if (to === null) {
        this.close(f.path, true);
        continue;
      }
      const np = to + f.path.slice(from.length);
      this.files.delete(f.path);
      f.path = np;
      this.files.set(np, f);
      (f.tab.querySelector('.tab-name') as HTMLElement).textContent = np.split('/').pop() ?? np;
      f.tab.title = np;
      if (this.active === from) this.active = np;
    }
  }

  close(path: string, force = false): void {
    const f = this.files.get(path);
    if (!f) return;
    if (f.dirty && !force && !window.confirm(`${path} has unsaved changes. Close it anyway?`)) return;
    f.editor?.destroy();
    f.host.remove();
    f.tab.remove();
    this.files.delete(path);
    if (this.active === path) {
      const next = [...this.files.keys()].pop();
      if (next) this.show(next);
      else this.hide();
    }
  }

  /** Unsaved files, for a warning before leaving the page. */
  dirtyCount(): number {
    return [...this.files.values()].filter((f) => f.dirty).length;
  }

  dispose(): void {
    window.removeEventListener('beforeunload', this.warnUnsaved);
    for (const f of this.files.values()) f.editor?.destroy();
    this.files.clear();
  }

  private setDirty(f: OpenFile, dirty: boolean): void {
    f.dirty = dirty;
    f.tab.classList.toggle('dirty', dirty);
    f.tab.classList.toggle('stale', f.stale);
    const name = f.path.split('/').pop() ?? f.path;
    tabButton(f.tab).setAttribute('aria-label', `${name}${dirty ? ', unsaved changes' : ''}${f.stale ? ', changed on disk' : ''}`);
  }

  private makeTab(path: string): HTMLElement {
    const name = path.split('/').pop() ?? path;
    const tab = h(
      'div',
      { class: 'tab file-tab', title: path },
      h(
        'button',
        { type: 'button', role: 'tab', class: 'tab-btn', 'aria-label': name, onclick: () => this.open(this.pathOf(tab)) },
        h('span', { class: 'tab-name' }, name),
        h('span', { class: 'dirty-dot', 'aria-hidden': 'true' }, '●'),
      ),
      h('button', { type: 'button', class: 'icon-btn tab-close', 'aria-label': `Close ${name}`, onclick: () => this.close(this.pathOf(tab)) }, icon('x')),
    );
    return tab;
  }

  private pathOf(tab: HTMLElement): string {
    for (const f of this.files.values()) if (f.tab === tab) return f.path;
    return '';
  }
}

function tabButton(tab: HTMLElement): HTMLElement {
  return tab.querySelector('[role=tab]') as HTMLElement;
}
