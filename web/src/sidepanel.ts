// The side panel: live git status, recent file changes, pull/fetch/push,
// processes and the server's vital signs.
import type { App } from './app';
import { fill, h, icon, plural, relTime } from './dom';
import { PortsSection } from './ports';

interface FileEvent {
  path: string;
  type: string;
  timestamp: string;
}

const MAX_FILES = 40;
const STATS_EVERY_MS = 10_000;

export class SidePanel {
  readonly el: HTMLElement;
  private readonly gitEl: HTMLElement;
  private readonly filesEl: HTMLElement;
  private readonly procEl: HTMLElement;
  private readonly statsEl: HTMLElement;
  private readonly syncResult: HTMLElement;
  private readonly healthEl: HTMLElement;
  private readonly syncButtons: HTMLButtonElement[] = [];
  private files: FileEvent[] = [];
  private statsTimer = 0;
  private readonly unsub: (() => void)[] = [];
  private readonly ports: PortsSection;

  constructor(
    private readonly app: App,
    private readonly workspaceId: string,
  ) {
    this.gitEl = h('div', { class: 'git' }, h('p', { class: 'muted' }, 'Loading…'));
    this.syncResult = h('p', { class: 'sync-result', role: 'status', 'aria-live': 'polite' });
    const ops: [string, string][] = [
      ['fetch', 'Fetch'],
      ['pull', 'Pull'],
      ['push', 'Push'],
    ];
    const buttons = ops.map(([op, label]) => {
      const b = h('button', { type: 'button', class: 'btn small', onclick: () => this.sync(op) }, label);
      this.syncButtons.push(b);
      return b;
    });
    this.filesEl = h('ol', { class: 'files', 'aria-label': 'Recent file changes' });
    this.procEl = h('ul', { class: 'procs' });
    this.statsEl = h('dl', { class: 'stats' });
    this.healthEl = h('span', { class: 'health' });
    this.ports = new PortsSection(app, workspaceId);
    this.el = h(
      'aside',
      { class: 'side', 'aria-label': 'Workspace details' },
      h('section', {}, h('h2', {}, 'Git'), this.gitEl, h('div', { class: 'row gap' }, buttons), this.syncResult),
      h('section', {}, h('h2', {}, 'Recent changes'), this.filesEl),
      h('section', {}, h('h2', {}, 'Processes'), this.procEl),
      this.ports.el,
      h('section', {}, h('h2', {}, 'Server ', this.healthEl), this.statsEl),
    );
    fill(this.filesEl, h('li', { class: 'muted' }, 'No changes seen yet.'));

    const conn = app.connection();
    const on = (ev: string, fn: (p: any) => void) => {
      conn.on(ev, fn);
      this.unsub.push(() => conn.off(ev, fn));
    };
    on('workspace-status', (p) => p?.workspaceId === workspaceId && this.status(p));
    on('file-changed', (p) => p?.workspaceId === workspaceId && this.fileChanged(p));
    on('workspace-synced', (p) => p?.workspaceId === workspaceId && this.synced(p));
    on('system-stats', (p) => this.stats(p));
    on('health-status', (p) => this.health(p));
    this.refresh();
    this.statsTimer = window.setInterval(() => {
      if (!this.el.hidden && document.visibilityState === 'visible') void conn.request('system-stats').catch(() => {});
    }, STATS_EVERY_MS);
  }

  /** Asks for everything again (opening, reconnecting). */
  refresh(): void {
    const conn = this.app.connection();
    void conn.request('get-workspace-status', { workspaceId: this.workspaceId }).catch(() => {});
    void conn.request('system-stats').catch(() => {});
    this.ports.refresh();
  }

  dispose(): void {
    window.clearInterval(this.statsTimer);
    this.ports.dispose();
    for (const u of this.unsub) u();
  }

  private status(p: any): void {
    const g = p.git ?? {};
    const dirty = (g.modified ?? 0) + (g.staged ?? 0) + (g.untracked ?? 0);
    fill(
      this.gitEl,
      h('div', { class: 'branch-line' }, h('span', { class: 'branch' }, g.branch || '(no branch)'), g.ahead || g.behind ? h('span', { class: 'badge', title: 'ahead / behind upstream' }, `↑${g.ahead ?? 0} ↓${g.behind ?? 0}`) : null),
      dirty === 0
        ? h('p', { class: 'ok-text' }, 'Working tree clean')
        : h(
            'ul',
            { class: 'counts' },
            g.staged ? h('li', {}, h('span', { class: 'n staged' }, String(g.staged)), ' staged') : null,
            g.modified ? h('li', {}, h('span', { class: 'n modified' }, String(g.modified)), ' modified') : null,
            g.untracked ? h('li', {}, h('span', { class: 'n untracked' }, String(g.untracked)), ' untracked') : null,
          ),
      p.lastActivity ? h('p', { class: 'muted small' }, `Last activity ${relTime(p.lastActivity)}`) : null,
    );
    const procs: any[] = p.processes ?? [];
    fill(this.procEl, procs.length ? procs.map((x) => h('li', {}, h('code', {}, x.command || '?'), h('span', { class: 'muted' }, ` pid ${x.pid}`))) : h('li', { class: 'muted' }, 'Only shells.'));
  }

  private fileChanged(p: any): void {
    this.files.unshift({ path: String(p.path ?? ''), type: String(p.type ?? 'modified'), timestamp: p.timestamp ?? new Date().toISOString() });
    this.files.length = Math.min(this.files.length, MAX_FILES);
    fill(
      this.filesEl,
      this.files.map((f) =>
        h(
          'li',
          { class: `file ${f.type}` },
          h('span', { class: 'ftype', title: f.type, 'aria-label': f.type }, f.type === 'created' ? '+' : f.type === 'deleted' ? '−' : '~'),
          h('span', { class: 'fpath', title: f.path }, f.path),
          h('time', { datetime: f.timestamp, class: 'muted' }, shortTime(f.timestamp)),
        ),
      ),
    );
  }

  private async sync(op: string): Promise<void> {
    for (const b of this.syncButtons) b.disabled = true;
    this.syncResult.className = 'sync-result';
    this.syncResult.textContent = `${op[0].toUpperCase()}${op.slice(1)}ing…`;
    try {
      const r = await this.app.connection().request('sync-workspace', { workspaceId: this.workspaceId, operation: op }, 5 * 60_000);
      this.synced(r);
    } catch (e) {
      this.syncResult.className = 'sync-result error';
      this.syncResult.textContent = `${op} failed: ${(e as Error).message}`;
    } finally {
      for (const b of this.syncButtons) b.disabled = false;
    }
  }

  private synced(p: any): void {
    const c = p?.changes ?? {};
    const op = p?.operation ?? 'sync';
    if (p?.success === false) {
      this.syncResult.className = 'sync-result error';
      this.syncResult.textContent = `${op} did not succeed`;
      return;
    }
    const total = (c.added ?? 0) + (c.modified ?? 0) + (c.deleted ?? 0);
    this.syncResult.className = 'sync-result ok';
    this.syncResult.textContent = total
      ? `${op}: ${plural(c.added ?? 0, 'file')} added, ${c.modified ?? 0} modified, ${c.deleted ?? 0} deleted`
      : `${op}: up to date`;
  }

  private stats(p: any): void {
    const mem = p?.memory ?? {};
    const fmtMem = (v: unknown) => (typeof v === 'number' ? bytes(v) : String(v ?? '?'));
    const rows: [string, string][] = [
      ['CPU', `${Math.round(p?.cpu?.usage ?? 0)}%`],
      ['Memory', `${fmtMem(mem.used)} / ${fmtMem(mem.total)}${typeof mem.percentage === 'number' ? ` (${mem.percentage.toFixed(0)}%)` : ''}`],
      ['Connections', String(p?.activeConnections ?? '?')],
      ['Sessions', String(p?.activeSessions ?? '?')],
      ['Uptime', duration(p?.uptime)],
    ];
    fill(this.statsEl, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  private health(p: any): void {
    const s = String(p?.status ?? '');
    this.healthEl.className = `health ${s}`;
    this.healthEl.textContent = s ? `· ${s}` : '';
  }
}

export function sidePanelToggle(onclick: () => void, open: boolean): HTMLButtonElement {
  return h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Side panel (Ctrl+Shift+B)', title: 'Side panel (Ctrl+Shift+B)', 'aria-pressed': String(open), onclick }, icon('panel'));
}

function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function duration(s: unknown): string {
  if (typeof s !== 'number') return '?';
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${hr}h` : hr ? `${hr}h ${m}m` : `${m}m`;
}
