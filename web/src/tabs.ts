// The tab strip: every session of the workspace, including those started
// elsewhere (SSH), with how many clients are watching each.
import type { TerminalInfo } from './api';
import { h, icon } from './dom';

export interface TabHooks {
  select(sessionId: string): void;
  kill(sessionId: string): void;
  rename(sessionId: string): void;
}

export function sessionLabel(t: TerminalInfo, index: number): string {
  return t.name || t.title || `${t.shell ? t.shell.split('/').pop() : 'shell'} ${index + 1}`;
}

export class Tabs {
  readonly el: HTMLElement;
  private order: string[] = [];

  constructor(private readonly hooks: TabHooks) {
    this.el = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Terminal sessions' });
    this.el.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** shown: sessions in a pane; active: the one in the focused pane. */
  update(sessions: TerminalInfo[], shown: Set<string>, active: string | null): void {
    const hadFocus = this.el.contains(document.activeElement);
    const focusedId = (document.activeElement as HTMLElement | null)?.dataset?.session;
    this.order = sessions.map((s) => s.sessionId);
    const items = sessions.map((s, i) => {
      const label = sessionLabel(s, i);
      const selected = s.sessionId === active;
      const ended = s.status === 'terminated' || s.status === 'exited';
      const viewers = s.viewers ?? 0;
      const tab = h(
        'button',
        {
          type: 'button',
          role: 'tab',
          class: 'tab-btn',
          id: `tab-${s.sessionId}`,
          'data-session': s.sessionId,
          'aria-selected': selected ? 'true' : 'false',
          tabindex: selected || (!active && i === 0) ? 0 : -1,
          title: `${label} — ${s.shell || 'shell'}, pid ${s.pid || '?'}${ended ? ' (ended)' : ''}. F2 renames, Delete kills.`,
          onclick: () => this.hooks.select(s.sessionId),
          ondblclick: () => this.hooks.rename(s.sessionId),
        },
        h('span', { class: `dot ${ended ? 'ended' : shown.has(s.sessionId) ? 'shown' : 'running'}`, 'aria-hidden': 'true' }),
        h('span', { class: 'tab-label' }, label),
        h('span', { class: 'viewers', title: `${viewers} viewer${viewers === 1 ? '' : 's'} attached` }, icon('eye'), h('span', { class: 'sr-only' }, 'viewers:'), String(viewers)),
      );
      return h(
        'div',
        { class: `tab${selected ? ' selected' : ''}${ended ? ' ended' : ''}` },
        tab,
        h('button', { type: 'button', class: 'tab-close icon-btn', tabindex: -1, 'aria-label': `Kill session ${label}`, title: 'Kill session', onclick: () => this.hooks.kill(s.sessionId) }, icon('x')),
      );
    });
    this.el.replaceChildren(...items);
    if (hadFocus && focusedId) this.el.querySelector<HTMLElement>(`[data-session="${CSS.escape(focusedId)}"]`)?.focus();
  }

  private onKey(e: KeyboardEvent): void {
    const cur = (e.target as HTMLElement).dataset?.session;
    if (!cur) return;
    const i = this.order.indexOf(cur);
    let next = -1;
    switch (e.key) {
      case 'ArrowRight':
        next = (i + 1) % this.order.length;
        break;
      case 'ArrowLeft':
        next = (i - 1 + this.order.length) % this.order.length;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = this.order.length - 1;
        break;
      case 'Delete':
        e.preventDefault();
        this.hooks.kill(cur);
        return;
      case 'F2':
        e.preventDefault();
        this.hooks.rename(cur);
        return;
      default:
        return;
    }
    e.preventDefault();
    const btn = this.el.querySelector<HTMLElement>(`[data-session="${CSS.escape(this.order[next])}"]`);
    if (btn) {
      for (const b of this.el.querySelectorAll<HTMLElement>('[role=tab]')) b.tabIndex = -1;
      btn.tabIndex = 0;
      btn.focus();
    }
  }
}
