// The side panel's Ports section: the TCP ports the workspace's processes
// listen on, each with "Open" (a preview on an origin of its own, reached
// through a one-time ticket), the `ssh -L` command for the same port, and
// for a VNC server a "Desktop" that shows it with noVNC through the tunnel.
import type { App } from './app';
import { getToken } from './api';
import { fill, h } from './dom';
import './ports.css';
import type * as Vnc from './vnc';

export interface Port {
  port: number;
  address: string;
  process: string;
  pid: number;
  protocol?: string;
}

export class PortsSection {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private sshTarget = '';
  private readonly unsub: (() => void)[] = [];

  constructor(
    private readonly app: App,
    private readonly workspaceId: string,
  ) {
    this.list = h('ul', { class: 'ports', 'aria-label': 'Listening ports' }, h('li', { class: 'muted' }, 'Loading…'));
    this.el = h('section', { class: 'ports-section' }, h('h2', {}, 'Ports'), this.list);
    const conn = app.connection();
    const changed = (p: any) => p?.workspaceId === workspaceId && this.render(p.ports ?? []);
    conn.on('ports-changed', changed);
    this.unsub.push(() => conn.off('ports-changed', changed));
  }

  refresh(): void {
    this.app
      .connection()
      .request('list-ports', { workspaceId: this.workspaceId })
      .then((r: any) => {
        this.sshTarget = String(r?.sshTarget ?? '');
        this.render(r?.ports ?? []);
      })
      .catch(() => {});
  }

  dispose(): void {
    for (const u of this.unsub) u();
  }

  private render(all: Port[]): void {
    // A server listening on IPv4 and IPv6 is one port to the user.
    const ports = all.filter((p, i) => all.findIndex((q) => q.port === p.port) === i);
    if (!ports.length) {
      fill(this.list, h('li', { class: 'muted' }, 'Nothing listens yet. Start a server in a terminal.'));
      return;
    }
    fill(
      this.list,
      ports.map((p) => {
        const cmd = this.forwardCommand(p.port);
        return h(
          'li',
          { class: 'port', 'data-port': p.port },
          h('div', { class: 'port-line' }, h('strong', {}, `:${p.port}`), h('span', { class: 'muted', title: `pid ${p.pid} on ${p.address}` }, ` ${p.process || '?'}`)),
          h(
            'div',
            { class: 'row gap' },
            h('button', { type: 'button', class: 'btn small', onclick: () => void this.open(p) }, 'Open'),
            p.protocol === 'rfb' ? h('button', { type: 'button', class: 'btn small', onclick: () => void this.desktop(p) }, 'Desktop') : null,
            cmd ? h('button', { type: 'button', class: 'btn small', title: cmd, onclick: () => void this.copy(cmd) }, 'Copy ssh -L') : null,
          ),
          cmd ? h('code', { class: 'port-ssh' }, cmd) : null,
        );
      }),
    );
  }

  private forwardCommand(port: number): string {
    return this.sshTarget ? `ssh -N -L ${port}:localhost:${port} ${this.sshTarget}` : '';
  }

  private async copy(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      this.app.toasts.info('Copied', text);
    } catch {
      this.app.toasts.error('Could not copy; select the command instead');
    }
  }

  /** Opens the preview in a new tab. The tab is opened at once (a popup
   * blocker allows it only in the click) and sent on once the ticket is
   * there; it never gets a handle on this page. */
  private async open(p: Port): Promise<void> {
    const tab = window.open('', '_blank');
    try {
      const res = await fetch('/api/previews', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${getToken() ?? ''}` },
        body: JSON.stringify({ workspaceId: this.workspaceId, port: p.port }),
      });
      const body = await res.json().catch(() => null);
      if (!res.ok || typeof body?.url !== 'string') throw new Error(body?.error?.message ?? `preview failed: ${res.status}`);
      if (tab) {
        tab.opener = null;
        tab.location.href = body.url;
      } else {
        window.open(body.url, '_blank', 'noopener');
      }
    } catch (e) {
      tab?.close();
      this.app.toasts.error(`Cannot open port ${p.port}`, (e as Error).message);
    }
  }

  /** Shows the VNC server on p in a full-window viewer. */
  private async desktop(p: Port): Promise<void> {
    const src = document.querySelector('meta[name="codeterm-vnc"]')?.getAttribute('content');
    if (!src) return;
    const screen = h('div', { class: 'desktop-screen' });
    const state = h('span', { class: 'muted', role: 'status' }, 'Connecting…');
    let session: Vnc.Desktop | null = null;
    const close = () => {
      session?.disconnect();
      overlay.remove();
    };
    const overlay = h(
      'div',
      { class: 'desktop-overlay', role: 'dialog', 'aria-label': `Desktop on port ${p.port}` },
      h('div', { class: 'desktop-bar' }, h('strong', {}, `Desktop :${p.port}`), state, h('button', { type: 'button', class: 'btn small', onclick: close }, 'Close')),
      screen,
    );
    document.body.append(overlay);
    try {
      const vnc: typeof Vnc = await import(src);
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const url = `${proto}://${location.host}/tunnel/${encodeURIComponent(this.workspaceId)}/${p.port}`;
      session = vnc.connect(screen, url, ['binary', `codeterm.bearer.${getToken() ?? ''}`], {
        connected: () => (state.textContent = 'Connected'),
        disconnected: (clean) => (state.textContent = clean ? 'Disconnected' : 'Connection lost'),
        password: () => session?.sendPassword(window.prompt('VNC password') ?? ''),
        failed: (reason) => (state.textContent = `Refused: ${reason}`),
      });
    } catch (e) {
      state.textContent = `Cannot load the viewer: ${(e as Error).message}`;
    }
  }
}
