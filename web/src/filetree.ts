// The file tree of the side panel: directories load when opened, follow
// file-changed events, carry git status colours, and take uploads by drag
// and drop or the file chooser. Each row has a menu (right click, the ⋯
// button, or the context-menu key) to open, download, rename or delete.
import type { ApiError } from './api';
import './files.css';
import { confirmDialog, promptDialog } from './dialog';
import { fill, h } from './dom';
import type { FileClient, FileEntry } from './fileapi';
import type { Toasts } from './toasts';

export interface TreeHooks {
  open(path: string): void;
  /** A path was renamed (to) or deleted (null). */
  moved(from: string, to: string | null): void;
}

interface DirState {
  ul: HTMLElement;
  loaded: boolean;
  open: boolean;
}

const REFRESH_DELAY_MS = 150;

export class FileTree {
  readonly el: HTMLElement;
  private readonly rootUl: HTMLElement;
  private readonly uploadsEl: HTMLElement;
  private readonly chooser: HTMLInputElement;
  private readonly dirs = new Map<string, DirState>();
  private readonly pendingRefresh = new Set<string>();
  private refreshTimer = 0;
  private menu: HTMLElement | null = null;
  private chooseInto = '';

  constructor(
    private readonly client: FileClient,
    private readonly toasts: Toasts,
    private readonly hooks: TreeHooks,
  ) {
    this.rootUl = h('ul', { class: 'tree', role: 'tree', 'aria-label': 'Workspace files' });
    this.uploadsEl = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
    this.chooser = h('input', { type: 'file', multiple: true, hidden: true, 'aria-label': 'Choose files to upload' });
    this.chooser.addEventListener('change', () => {
      const files = [...(this.chooser.files ?? [])];
      this.chooser.value = '';
      for (const f of files) void this.uploadOne(join(this.chooseInto, f.name), f);
    });
    const btn = (label: string, text: string, fn: () => void) => h('button', { type: 'button', class: 'btn small', 'aria-label': label, title: label, onclick: fn }, text);
    this.el = h(
      'section',
      { class: 'filetree' },
      h(
        'div',
        { class: 'filetree-head' },
        h('h2', {}, 'Files'),
        h(
          'div',
          { class: 'row gap', role: 'toolbar', 'aria-label': 'File actions' },
          btn('New file', '+ File', () => void this.newFile('')),
          btn('New folder', '+ Folder', () => void this.newFolder('')),
          btn('Upload files', 'Upload', () => this.choose('')),
          btn('Refresh the file tree', '↻', () => void this.load('')),
        ),
      ),
      this.rootUl,
      this.uploadsEl,
      this.chooser,
    );
    this.dirs.set('', { ul: this.rootUl, loaded: false, open: true });
    this.el.addEventListener('dragover', (e) => this.dragOver(e));
    this.el.addEventListener('dragleave', () => this.el.classList.remove('drop-target'));
    this.el.addEventListener('drop', (e) => void this.drop(e));
    this.el.addEventListener('keydown', (e) => this.onKey(e));
    this.rootUl.addEventListener('focusin', (e) => {
      const li = (e.target as HTMLElement).closest?.('li[role=treeitem]') as HTMLElement | null;
      if (li) this.roving(li);
    });
    document.addEventListener('click', this.closeMenuOnClick, true);
    void this.load('');
  }

  dispose(): void {
    window.clearTimeout(this.refreshTimer);
    document.removeEventListener('click', this.closeMenuOnClick, true);
    this.closeMenu();
  }

  /** Reloads every open directory (after a reconnect). */
  refresh(): void {
    for (const [p, d] of this.dirs) if (d.open && d.loaded) this.queueRefresh(p);
  }

  /** A file-changed event: its directory is listed again if it is open. */
  fileChanged(path: string): void {
    const parent = dirname(path);
    if (this.dirs.get(parent)?.loaded) this.queueRefresh(parent);
  }

  private queueRefresh(dir: string): void {
    this.pendingRefresh.add(dir);
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => {
      const dirs = [...this.pendingRefresh];
      this.pendingRefresh.clear();
      for (const d of dirs) void this.load(d);
    }, REFRESH_DELAY_MS);
  }

  private async load(dir: string): Promise<void> {
    const st = this.dirs.get(dir);
    if (!st) return;
    let entries: FileEntry[];
    try {
      entries = await this.client.list(dir);
    } catch (e) {
      if (dir === '') fill(st.ul, h('li', { class: 'muted', role: 'none' }, `Could not list files: ${(e as Error).message}`));
      return;
    }
    // Redrawing would take an open menu away under the pointer: wait for
    // it to close.
    if (this.menu && st.ul.contains(this.menu)) {
      this.pendingRefresh.add(dir);
      return;
    }
    st.loaded = true;
    const level = dir === '' ? 1 : dir.split('/').length + 1;
    entries.sort((a, b) => (a.type === 'dir') === (b.type === 'dir') ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1);
    const focusedPath = (document.activeElement as HTMLElement | null)?.dataset?.path;
    fill(st.ul, entries.length ? entries.map((e) => this.row(e, level)) : dir === '' ? h('li', { class: 'muted', role: 'none' }, 'No files yet.') : null);
    // Forget directories that are gone.
    for (const p of [...this.dirs.keys()]) {
      if (p !== '' && dirname(p) === dir && !entries.some((e) => e.path === p && e.type === 'dir')) this.forget(p);
    }
    if (focusedPath) this.rowOf(focusedPath)?.focus();
    this.roving();
  }

  /** One item of the tree is in the tab order (the focused one, else the
   * first); arrows move from there. */
  private roving(current?: HTMLElement): void {
    const items = this.rootUl.querySelectorAll<HTMLElement>('li[role=treeitem]');
    const pick = current ?? [...items].find((x) => x.tabIndex === 0 && x.isConnected) ?? items[0];
    for (const x of items) x.tabIndex = x === pick ? 0 : -1;
  }

  private forget(dir: string): void {
    for (const p of [...this.dirs.keys()]) if (p === dir || p.startsWith(dir + '/')) this.dirs.delete(p);
  }

  private row(e: FileEntry, level: number): HTMLElement {
    const isDir = e.type === 'dir';
    const git = e.gitStatus ? ` git-${e.gitStatus}` : '';
    const label = h(
      'span',
      { class: `tree-label${git}` },
      h('span', { class: 'tree-icon', 'aria-hidden': 'true' }, isDir ? '▸' : e.type === 'symlink' ? '↪' : '·'),
      h('span', { class: 'tree-name' }, e.name),
      e.gitStatus ? h('span', { class: 'git-mark', title: e.gitStatus }, gitLetter(e.gitStatus)) : null,
    );
    const more = h('button', { type: 'button', class: 'icon-btn tree-more', tabindex: -1, 'aria-label': `Actions for ${e.name}`, onclick: (ev: Event) => this.openMenu(e, ev.currentTarget as HTMLElement) }, '⋯');
    const li = h(
      'li',
      {
        role: 'treeitem',
        class: `tree-item ${isDir ? 'tree-dir' : 'tree-file'}`,
        tabindex: -1,
        'aria-level': level,
        'aria-label': `${e.name}${isDir ? ', folder' : ''}${e.gitStatus ? `, ${e.gitStatus}` : ''}`,
        'data-path': e.path,
        'data-type': e.type,
      },
      h('div', { class: 'tree-row', style: `padding-left: ${(level - 1) * 0.9 + 0.3}rem` }, label, more),
    );
    li.querySelector('.tree-row')!.addEventListener('click', (ev) => {
      if ((ev.target as HTMLElement).closest('.tree-more')) return;
      li.focus();
      this.activate(e);
    });
    li.addEventListener('contextmenu', (ev) => {
      ev.preventDefault();
      this.openMenu(e, li.querySelector('.tree-row') as HTMLElement);
    });
    if (isDir) {
      let st = this.dirs.get(e.path);
      if (!st) {
        st = { ul: h('ul', { role: 'group' }), loaded: false, open: false };
        this.dirs.set(e.path, st);
      }
      li.setAttribute('aria-expanded', String(st.open));
      li.classList.toggle('open', st.open);
      st.ul.hidden = !st.open;
      li.append(st.ul);
      if (st.open && st.loaded) this.queueRefresh(e.path);
    }
    return li;
  }

  private activate(e: FileEntry): void {
    if (e.type === 'dir') this.toggle(e.path);
    else if (e.type === 'file' || e.type === 'symlink') this.hooks.open(e.path);
  }

  private toggle(path: string, open?: boolean): void {
    const st = this.dirs.get(path);
    const li = this.rowOf(path);
    if (!st || !li) return;
    st.open = open ?? !st.open;
    st.ul.hidden = !st.open;
    li.setAttribute('aria-expanded', String(st.open));
    li.classList.toggle('open', st.open);
    if (st.open && !st.loaded) {
      fill(st.ul, h('li', { class: 'muted', role: 'none' }, 'Loading…'));
      void this.load(path);
    }
  }

  private rowOf(path: string): HTMLElement | null {
    return this.rootUl.querySelector(`li[data-path="${CSS.escape(path)}"]`);
  }

  // ---- keyboard: arrows move, Enter opens, Shift+F10 or the menu key for actions ----

  private onKey(e: KeyboardEvent): void {
    const li = (e.target as HTMLElement).closest?.('li[role=treeitem]') as HTMLElement | null;
    if (!li) return;
    const items = [...this.rootUl.querySelectorAll<HTMLElement>('li[role=treeitem]')].filter((x) => x.offsetParent !== null);
    const i = items.indexOf(li);
    const entry = this.entryOf(li);
    switch (e.key) {
      case 'ArrowDown':
        items[i + 1]?.focus();
        break;
      case 'ArrowUp':
        items[i - 1]?.focus();
        break;
      case 'ArrowRight':
        if (entry.type === 'dir') this.toggle(entry.path, true);
        break;
      case 'ArrowLeft':
        if (entry.type === 'dir' && li.getAttribute('aria-expanded') === 'true') this.toggle(entry.path, false);
        else this.rowOf(dirname(entry.path))?.focus();
        break;
      case 'Enter':
      case ' ':
        this.activate(entry);
        break;
      case 'ContextMenu':
        this.openMenu(entry, li.querySelector('.tree-row') as HTMLElement);
        break;
      case 'F10':
        if (!e.shiftKey) return;
        this.openMenu(entry, li.querySelector('.tree-row') as HTMLElement);
        break;
      case 'Delete':
        void this.remove(entry);
        break;
      case 'F2':
        void this.rename(entry);
        break;
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
  }

  private entryOf(li: HTMLElement): FileEntry {
    return { path: li.dataset.path ?? '', name: (li.dataset.path ?? '').split('/').pop() ?? '', type: (li.dataset.type ?? 'file') as FileEntry['type'], size: 0, mtime: '', mode: '' };
  }

  // ---- the menu ----

  private openMenu(e: FileEntry, anchor: HTMLElement): void {
    this.closeMenu();
    const dir = e.type === 'dir' ? e.path : dirname(e.path);
    const item = (label: string, fn: () => void, danger = false) =>
      h('button', { type: 'button', role: 'menuitem', class: danger ? 'menu-item danger' : 'menu-item', onclick: () => (this.closeMenu(), fn()) }, label);
    const items = [
      e.type !== 'dir' ? item('Open', () => this.hooks.open(e.path)) : null,
      e.type !== 'dir' ? item('Download', () => void this.download(e.path)) : null,
      item('New file here', () => void this.newFile(dir)),
      item('New folder here', () => void this.newFolder(dir)),
      item('Upload here', () => this.choose(dir)),
      item('Rename', () => void this.rename(e)),
      item('Delete', () => void this.remove(e), true),
    ].filter((x): x is HTMLButtonElement => !!x);
    const menu = h('div', { class: 'menu', role: 'menu', 'aria-label': `Actions for ${e.name}` }, items);
    menu.addEventListener('keydown', (ev) => {
      const i = items.indexOf(document.activeElement as HTMLButtonElement);
      if (ev.key === 'ArrowDown') items[(i + 1) % items.length].focus();
      else if (ev.key === 'ArrowUp') items[(i - 1 + items.length) % items.length].focus();
      else if (ev.key === 'Escape' || ev.key === 'Tab') {
        this.closeMenu();
        this.rowOf(e.path)?.focus();
      } else return;
      ev.preventDefault();
      ev.stopPropagation();
    });
    anchor.after(menu);
    this.menu = menu;
    items[0]?.focus();
  }

  private closeMenu(): void {
    if (!this.menu) return;
    this.menu.remove();
    this.menu = null;
    if (this.pendingRefresh.size) this.queueRefresh([...this.pendingRefresh][0]);
  }

  private readonly closeMenuOnClick = (e: Event) => {
    if (this.menu && !this.menu.contains(e.target as Node) && !(e.target as HTMLElement).closest?.('.tree-more')) this.closeMenu();
  };

  // ---- operations ----

  private async download(path: string): Promise<void> {
    try {
      await this.client.download(path);
    } catch (e) {
      this.toasts.error(`Could not download ${path}`, (e as Error).message);
    }
  }

  private async newFile(dir: string): Promise<void> {
    const name = await promptDialog('New file', `File name${dir ? ` in ${dir}` : ''}`, '', 'Create');
    if (!name) return;
    const path = join(dir, name);
    try {
      await this.client.write(path, '', undefined, true);
      await this.reveal(dirname(path));
      this.hooks.open(path);
    } catch (e) {
      this.toasts.error(`Could not create ${path}`, (e as Error).message);
    }
  }

  private async newFolder(dir: string): Promise<void> {
    const name = await promptDialog('New folder', `Folder name${dir ? ` in ${dir}` : ''}`, '', 'Create');
    if (!name) return;
    const path = join(dir, name);
    try {
      await this.client.mkdir(path);
      await this.reveal(dirname(path));
    } catch (e) {
      this.toasts.error(`Could not create ${path}`, (e as Error).message);
    }
  }

  private async rename(e: FileEntry): Promise<void> {
    const name = await promptDialog(`Rename ${e.name}`, 'New name', e.name, 'Rename');
    if (!name || name === e.name) return;
    const to = join(dirname(e.path), name);
    try {
      await this.client.rename(e.path, to);
      this.hooks.moved(e.path, to);
      if (e.type === 'dir') this.forget(e.path);
      await this.load(dirname(e.path));
      if (dirname(to) !== dirname(e.path)) await this.reveal(dirname(to));
    } catch (err) {
      this.toasts.error(`Could not rename ${e.path}`, (err as Error).message);
    }
  }

  private async remove(e: FileEntry): Promise<void> {
    const isDir = e.type === 'dir';
    const ok = await confirmDialog(`Delete ${e.name}?`, isDir ? `The folder ${e.path} and everything in it will be deleted. This cannot be undone.` : `${e.path} will be deleted. This cannot be undone.`, 'Delete');
    if (!ok) return;
    try {
      await this.client.remove(e.path, isDir);
      this.hooks.moved(e.path, null);
      if (isDir) this.forget(e.path);
      await this.load(dirname(e.path));
    } catch (err) {
      this.toasts.error(`Could not delete ${e.path}`, (err as Error).message);
    }
  }

  /** Opens every directory down to dir and lists it again. */
  private async reveal(dir: string): Promise<void> {
    if (dir === '') return this.load('');
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!this.dirs.has(p)) await this.load(dirname(p));
      const st = this.dirs.get(p);
      if (st && !st.open) this.toggle(p, true);
    }
    await this.load(dir);
  }

  // ---- uploads ----

  private choose(dir: string): void {
    this.chooseInto = dir;
    this.chooser.click();
  }

  private dragOver(e: DragEvent): void {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    this.el.classList.add('drop-target');
  }

  private async drop(e: DragEvent): Promise<void> {
    this.el.classList.remove('drop-target');
    if (!e.dataTransfer) return;
    e.preventDefault();
    const li = (e.target as HTMLElement).closest?.('li[role=treeitem]') as HTMLElement | null;
    const target = li ? (li.dataset.type === 'dir' ? li.dataset.path! : dirname(li.dataset.path!)) : '';
    // Folders come as entries; plain files as File objects.
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter((x): x is FileSystemEntry => !!x);
    const files: [string, File][] = [];
    if (entries.length) {
      for (const en of entries) await collect(en, target, files, (d) => this.client.mkdir(d).then(() => {}));
    } else {
      for (const f of e.dataTransfer.files) files.push([join(target, f.name), f]);
    }
    await Promise.all(files.map(([p, f]) => this.uploadOne(p, f)));
  }

  private async uploadOne(path: string, file: File): Promise<void> {
    const bar = h('progress', { max: file.size || 1, value: 0, 'aria-label': `Uploading ${path}` });
    const pct = h('span', { class: 'upload-pct' }, '0%');
    const cancel = new AbortController();
    const li = h(
      'li',
      { class: 'upload', 'data-path': path },
      h('span', { class: 'upload-name', title: path }, path),
      bar,
      pct,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Cancel upload of ${path}`, onclick: () => cancel.abort() }, '×'),
    );
    this.uploadsEl.append(li);
    try {
      await this.client.upload(
        path,
        file,
        (p) => {
          bar.value = p.sent;
          pct.textContent = `${Math.floor((p.sent * 100) / (p.size || 1))}%`;
        },
        cancel.signal,
      );
      bar.value = file.size || 1;
      pct.textContent = '100%';
      li.classList.add('done');
      li.querySelector('button')?.remove();
      await this.reveal(dirname(path));
      window.setTimeout(() => li.remove(), 4000);
    } catch (e) {
      li.classList.add('failed');
      pct.textContent = (e as ApiError).code === 'CANCELLED' ? 'cancelled' : 'failed';
      this.toasts.error(`Upload of ${path} failed`, (e as Error).message);
      window.setTimeout(() => li.remove(), 8000);
    }
  }
}

async function collect(entry: FileSystemEntry, dir: string, out: [string, File][], mkdir: (d: string) => Promise<void>): Promise<void> {
  const path = join(dir, entry.name);
  if (entry.isFile) {
    const f = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.push([path, f]);
    return;
  }
  if (!entry.isDirectory) return;
  await mkdir(path);
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (!batch.length) break;
    for (const child of batch) await collect(child, path, out, mkdir);
  }
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

function gitLetter(s: string): string {
  return ({ modified: 'M', added: 'A', deleted: 'D', renamed: 'R', untracked: 'U', conflict: '!' } as Record<string, string>)[s] ?? '•';
}
