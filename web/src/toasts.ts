// Toasts: every server error ends up here as a sentence a person can read.
import { h, icon } from './dom';

export type ToastKind = 'error' | 'info' | 'ok';

interface Live {
  el: HTMLElement;
  count: number;
  timer: number;
  countEl: HTMLElement;
}

/** Error codes the server uses, as advice; the server's message is shown too. */
const HINTS: Record<string, string> = {
  RATE_LIMITED: 'Slow down a little and try again.',
  GITHUB_NOT_CONFIGURED: 'Ask the server owner to configure GitHub, or clone by URL.',
  SESSION_NOT_FOUND: 'The session has ended or belongs to someone else.',
  WORKSPACE_NOT_FOUND: 'The workspace was deleted or never existed.',
  TIMEOUT: 'Check your connection; the request will not be retried.',
};

export class Toasts {
  private readonly region: HTMLElement;
  private readonly live = new Map<string, Live>();

  constructor(parent: HTMLElement) {
    // role=status for info would be quieter, but errors must interrupt.
    this.region = h('div', { class: 'toasts', 'aria-live': 'assertive', 'aria-relevant': 'additions' });
    parent.append(this.region);
  }

  /** ttlMs 0 keeps the toast until dismissed. */
  show(kind: ToastKind, message: string, detail?: string, ttlMs = this.ttl(kind)): void {
    // The same message twice in a row (a rate limit, a flapping link) is
    // counted instead of stacked.
    const key = `${kind}:${message}:${detail ?? ''}`;
    const old = this.live.get(key);
    if (old) {
      old.count++;
      old.countEl.textContent = `×${old.count}`;
      window.clearTimeout(old.timer);
      if (ttlMs > 0) old.timer = window.setTimeout(() => this.dismiss(key), ttlMs);
      return;
    }
    const countEl = h('span', { class: 'toast-count' });
    const el = h(
      'div',
      { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
      h('div', { class: 'toast-body' }, h('strong', {}, message), countEl, detail ? h('div', { class: 'toast-detail' }, detail) : null),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Dismiss', onclick: () => this.dismiss(key) }, icon('x')),
    );
    this.region.append(el);
    const timer = ttlMs > 0 ? window.setTimeout(() => this.dismiss(key), ttlMs) : 0;
    this.live.set(key, { el, count: 1, timer, countEl });
    while (this.region.children.length > 5) {
      const first = [...this.live.entries()][0];
      if (!first) break;
      this.dismiss(first[0]);
    }
  }

  error(message: string, detail?: string): void {
    this.show('error', message, detail);
  }

  info(message: string, detail?: string): void {
    this.show('info', message, detail);
  }

  ok(message: string, detail?: string): void {
    this.show('ok', message, detail);
  }

  /** A server error payload ({code, message, details}) as a toast. */
  serverError(e: { code?: string; message?: string; details?: unknown } | undefined, context?: string): void {
    const msg = e?.message || 'Something went wrong on the server';
    const parts: string[] = [];
    if (context) parts.push(context);
    if (typeof e?.details === 'string' && e.details && e.details !== msg) parts.push(e.details);
    const hint = e?.code ? HINTS[e.code] : undefined;
    if (hint) parts.push(hint);
    if (e?.code) parts.push(`(${e.code})`);
    this.error(msg, parts.join(' '));
  }

  private ttl(kind: ToastKind): number {
    return kind === 'error' ? 9000 : 4000;
  }

  private dismiss(key: string): void {
    const t = this.live.get(key);
    if (!t) return;
    window.clearTimeout(t.timer);
    t.el.remove();
    this.live.delete(key);
  }
}
