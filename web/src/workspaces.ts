// The workspace list: open, create (empty, clone by URL, from GitHub) with
// live progress, delete with confirmation.
import { ApiError, listTerminals, listWorkspaces, type Workspace } from './api';
import type { App, View } from './app';
import { confirmDialog, openDialog } from './dialog';
import { fill, h, icon, plural, relTime } from './dom';
import { sharedWithMe } from './shared';

interface GitCounts {
  branch: string;
  ahead: number;
  behind: number;
  modified: number;
  staged: number;
  untracked: number;
}

export class WorkspaceList implements View {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private workspaces: Workspace[] = [];
  private git = new Map<string, GitCounts>();
  private sessions = new Map<string, number>();
  private readonly unsub: (() => void)[] = [];
  private disposed = false;

  constructor(private readonly app: App) {
    this.list = h('div', { class: 'ws-list', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading workspaces…'));
    const newBtn = h('button', { type: 'button', class: 'btn primary', onclick: () => this.createDialog() }, icon('plus'), 'New workspace');
    this.el = h(
      'div',
      { class: 'screen' },
      app.header([]),
      h(
        'main',
        { class: 'workspaces', id: 'main', tabindex: -1 },
        h('div', { class: 'ws-head' }, h('h1', {}, 'Workspaces'), h('div', { class: 'spacer' }), h('button', { type: 'button', class: 'btn', onclick: () => this.load(), 'aria-label': 'Refresh the list' }, icon('refresh'), 'Refresh'), newBtn),
        this.list,
        sharedWithMe(app, this.unsub),
      ),
    );
    const conn = app.connection();
    const onCreated = () => this.load();
    const onStatus = (p: any) => {
      if (p?.workspaceId && p.git) {
        this.git.set(p.workspaceId, p.git);
        this.render();
      }
    };
    conn.on('workspace-created', onCreated);
    conn.on('workspace-deleted', onCreated);
    conn.on('workspace-status', onStatus);
    this.unsub.push(
      () => conn.off('workspace-created', onCreated),
      () => conn.off('workspace-deleted', onCreated),
      () => conn.off('workspace-status', onStatus),
    );
    void this.load();
  }

  dispose(): void {
    this.disposed = true;
    for (const u of this.unsub) u();
  }

  resumed(): void {
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.workspaces = await listWorkspaces();
    } catch (e) {
      this.app.apiFailed(e, 'Could not load your workspaces');
      fill(this.list, h('p', { class: 'error' }, `Could not load your workspaces: ${(e as Error).message}`));
      return;
    }
    if (this.disposed) return;
    this.list.setAttribute('aria-busy', 'false');
    this.render();
    // Dirty counts and session counts fill in as they arrive; a slow git
    // status on one big checkout must not hold up the list.
    for (const w of this.workspaces) {
      this.app
        .connection()
        .request('get-workspace-status', { workspaceId: w.id })
        .then((r: any) => {
          const st = r?.status ?? r;
          if (st?.git) {
            this.git.set(w.id, st.git);
            this.render();
          }
        })
        .catch(() => {
          /* shown as a toast by the error event */
        });
      listTerminals(w.id).then(
        (ts) => {
          this.sessions.set(w.id, ts.filter((t) => t.status !== 'terminated').length);
          this.render();
        },
        () => {},
      );
    }
  }

  private render(): void {
    if (this.disposed) return;
    if (this.workspaces.length === 0) {
      fill(
        this.list,
        h(
          'div',
          { class: 'empty' },
          h('p', {}, 'No workspaces yet.'),
          h('p', { class: 'muted' }, 'A workspace is a folder on the server, usually a git checkout, with its own terminals. Create an empty one or clone a repository.'),
          h('button', { type: 'button', class: 'btn primary', onclick: () => this.createDialog() }, icon('plus'), 'Create your first workspace'),
        ),
      );
      return;
    }
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.ws;
    const rows = this.workspaces.map((w) => {
      const g = this.git.get(w.id);
      const dirty = g ? g.modified + g.staged + g.untracked : 0;
      const n = this.sessions.get(w.id);
      const link = h('a', { href: `/w/${encodeURIComponent(w.name)}`, class: 'ws-name', 'data-ws': w.id, 'data-link': true }, w.name);
      return h(
        'li',
        { class: 'ws-item' },
        h(
          'div',
          { class: 'ws-main' },
          link,
          h('div', { class: 'ws-meta' }, w.githubRepo || w.repoUrl || 'empty workspace', ' · ', w.lastActivity ? `active ${relTime(w.lastActivity)}` : `created ${relTime(w.createdAt)}`),
        ),
        h(
          'div',
          { class: 'ws-git' },
          h('span', { class: 'branch', title: 'Branch' }, g?.branch || w.branch || '—'),
          g
            ? dirty
              ? h('span', { class: 'badge warn', title: `${g.modified} modified, ${g.staged} staged, ${g.untracked} untracked` }, `${dirty} changed`)
              : h('span', { class: 'badge ok' }, 'clean')
            : null,
          g && (g.ahead || g.behind) ? h('span', { class: 'badge', title: 'Commits ahead / behind upstream' }, `↑${g.ahead} ↓${g.behind}`) : null,
          n !== undefined ? h('span', { class: 'badge' }, plural(n, 'session')) : null,
        ),
        h(
          'div',
          { class: 'ws-actions' },
          h('a', { class: 'btn', href: `/w/${encodeURIComponent(w.name)}`, 'data-link': true, 'aria-label': `Open ${w.name}` }, 'Open'),
          h('button', { type: 'button', class: 'btn icon-only danger-ghost', 'aria-label': `Delete ${w.name}`, title: 'Delete', onclick: () => this.remove(w) }, icon('trash')),
        ),
      );
    });
    fill(this.list, h('ul', { class: 'ws-items', 'aria-label': 'Your workspaces' }, rows));
    if (focused) this.list.querySelector<HTMLElement>(`[data-ws="${CSS.escape(focused)}"]`)?.focus();
  }

  private async remove(w: Workspace): Promise<void> {
    const ok = await confirmDialog(
      `Delete ${w.name}?`,
      `This removes the workspace, its folder on the server (${w.localPath}) and ends its terminal sessions. Unpushed work is lost.`,
      'Delete workspace',
    );
    if (!ok) return;
    try {
      await this.app.connection().request('delete-workspace', { workspaceId: w.id }, 60_000);
      this.app.toasts.ok(`Deleted ${w.name}`);
      void this.load();
    } catch {
      /* the workspace-error event has been shown */
    }
  }

  createDialog(): void {
    showCreateDialog(this.app, (ws) => this.app.navigate(`/w/${encodeURIComponent(ws.name)}`));
  }
}

type Source = 'empty' | 'url' | 'github';

/** The create dialog; calls done with the new workspace. */
export function showCreateDialog(app: App, done: (ws: { id: string; name: string }) => void): void {
  const conn = app.connection();
  let source: Source = 'empty';
  let busyName = '';
  let chosenRepo: { id: number; name: string; url: string } | null = null;

  const name = h('input', { type: 'text', id: 'ws-name', required: true, maxlength: 64, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'ws-name-help' });
  const url = h('input', { type: 'url', id: 'ws-url', placeholder: 'https://github.com/owner/repo.git or git@host:owner/repo', spellcheck: 'false', autocomplete: 'off' });
  const branch = h('input', { type: 'text', id: 'ws-branch', placeholder: 'default branch', spellcheck: 'false', autocomplete: 'off' });
  const repoList = h('div', { class: 'repo-list', role: 'listbox', 'aria-label': 'Your GitHub repositories' });
  const bar = h('div', { class: 'progress-fill' });
  const progress = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': 'Progress', hidden: true }, bar);
  const progressMsg = h('div', { class: 'progress-msg', role: 'status', 'aria-live': 'polite' });
  const errorMsg = h('div', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');

  const urlRow = h('label', { class: 'field', hidden: true }, h('span', {}, 'Repository URL'), url);
  const branchRow = h('label', { class: 'field', hidden: true }, h('span', {}, 'Branch (optional)'), branch);
  const ghRow = h('div', { class: 'field', hidden: true }, h('span', {}, 'Repository'), repoList);

  const sources: [Source, string][] = [
    ['empty', 'Empty'],
    ['url', 'Clone a URL'],
  ];
  if (app.providers.github) sources.push(['github', 'From GitHub']);
  const radios = h(
    'fieldset',
    { class: 'segmented' },
    h('legend', { class: 'sr-only' }, 'Start from'),
    sources.map(([v, label]) =>
      h(
        'label',
        {},
        h('input', {
          type: 'radio',
          name: 'ws-source',
          value: v,
          checked: v === source,
          onchange: () => {
            source = v;
            urlRow.hidden = v !== 'url';
            branchRow.hidden = v === 'empty';
            ghRow.hidden = v !== 'github';
            if (v === 'github' && !repoList.childElementCount) void loadRepos(1);
          },
        }),
        h('span', {}, label),
      ),
    ),
  );

  const loadRepos = async (page: number) => {
    fill(repoList, h('p', { class: 'muted' }, 'Loading repositories…'));
    try {
      const r: any = await conn.request('get-repositories', { page, per_page: 30, sort: 'updated' });
      const repos: any[] = r?.repositories ?? [];
      fill(
        repoList,
        repos.length === 0 ? h('p', { class: 'muted' }, 'No repositories.') : null,
        repos.map((repo) =>
          h(
            'button',
            {
              type: 'button',
              role: 'option',
              class: 'repo',
              'aria-selected': 'false',
              onclick: (e: Event) => {
                for (const b of repoList.querySelectorAll('[role=option]')) b.setAttribute('aria-selected', 'false');
                (e.currentTarget as HTMLElement).setAttribute('aria-selected', 'true');
                chosenRepo = { id: repo.id, name: repo.name, url: repo.clone_url || repo.html_url };
                if (!name.value) name.value = repo.name;
              },
            },
            h('strong', {}, repo.full_name || repo.name),
            repo.description ? h('span', { class: 'muted' }, ` — ${repo.description}`) : null,
          ),
        ),
        r?.has_next ? h('button', { type: 'button', class: 'btn', onclick: () => loadRepos(page + 1) }, 'More…') : null,
      );
    } catch (e) {
      fill(repoList, h('p', { class: 'error' }, (e as Error).message));
    }
  };

  const onProgress = (p: any) => {
    if (p?.name && busyName && p.name !== busyName) return; // another tab's clone
    progress.hidden = false;
    const pct = Math.max(0, Math.min(100, Number(p?.progress) || 0));
    bar.style.width = `${pct}%`;
    progress.setAttribute('aria-valuenow', String(pct));
    progressMsg.textContent = p?.message || p?.step || '';
  };
  conn.on('workspace-progress', onProgress);

  const form = h(
    'form',
    { class: 'create-form', novalidate: true },
    radios,
    h('label', { class: 'field' }, h('span', {}, 'Name'), name, h('small', { id: 'ws-name-help', class: 'muted' }, 'Letters, digits, dot, dash, underscore. You will reach it as ', h('code', {}, 'ssh host NAME'), '.')),
    urlRow,
    ghRow,
    branchRow,
    progress,
    progressMsg,
    errorMsg,
    h('div', { class: 'dialog-actions' }, cancel, submit),
  );

  url.addEventListener('input', () => {
    // Suggest the repository's name, as git clone would.
    const m = /([^/:]+?)(\.git)?\/?$/.exec(url.value.trim());
    if (m && (!name.value || name.dataset.auto === '1')) {
      name.value = m[1];
      name.dataset.auto = '1';
    }
  });
  name.addEventListener('input', () => delete name.dataset.auto);

  const dlg = openDialog('New workspace', [form], { wide: true, onClose: () => conn.off('workspace-progress', onProgress) });
  cancel.addEventListener('click', () => {
    if (busyName) void conn.request('cancel-workspace', { name: busyName }).catch(() => {});
    dlg.close();
  });
  name.focus();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errorMsg.textContent = '';
    const n = name.value.trim();
    if (!n || !name.checkValidity()) {
      errorMsg.textContent = 'Give the workspace a name: letters, digits, dot, dash or underscore, starting with a letter or digit.';
      name.focus();
      return;
    }
    let event = 'create-workspace';
    const payload: Record<string, unknown> = { name: n };
    if (source === 'url') {
      if (!url.value.trim()) {
        errorMsg.textContent = 'Enter the URL of the repository to clone.';
        url.focus();
        return;
      }
      payload.repoUrl = url.value.trim();
    }
    if (source === 'github') {
      if (!chosenRepo) {
        errorMsg.textContent = 'Pick a repository.';
        return;
      }
      event = 'clone-workspace';
      payload.repositoryId = chosenRepo.id;
    }
    if (source !== 'empty' && branch.value.trim()) payload.branch = branch.value.trim();
    busyName = n;
    submit.disabled = true;
    submit.textContent = 'Creating…';
    for (const i of form.querySelectorAll('input')) i.disabled = true;
    cancel.textContent = source === 'empty' ? 'Close' : 'Cancel clone';
    try {
      const r: any = await conn.request(event, payload, 30 * 60_000);
      const ws = r?.workspace;
      dlg.close();
      app.toasts.ok(`Created ${ws?.name ?? n}`);
      if (ws) done(ws);
    } catch (err) {
      const ae = err as ApiError;
      errorMsg.textContent = ae.message + (typeof ae.details === 'string' && ae.details ? ` — ${ae.details}` : '');
      progress.hidden = true;
      progressMsg.textContent = '';
      busyName = '';
      submit.disabled = false;
      submit.textContent = 'Create';
      cancel.textContent = 'Cancel';
      for (const i of form.querySelectorAll('input')) i.disabled = false;
    }
  });
}
