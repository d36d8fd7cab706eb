// Commands the shell integration reports (command-started, -finished): a
// long one that ends while nobody looks at the page says so, by a system
// notification when the browser allows it, else by a toast that waits.
import type { Toasts } from './toasts';

export interface CommandStarted {
  sessionId: string;
  commandId: string;
  command?: string;
  cwd?: string;
  seq: number;
}

export interface CommandFinished {
  sessionId: string;
  commandId: string;
  exitCode: number | null;
  durationMs: number;
  seq: number;
}

/** Commands shorter than this finish without a word. */
export const NOTIFY_AFTER_MS = 10_000;

export class CommandNotifier {
  /** Command lines by session and command id; only until the end. */
  private readonly lines = new Map<string, string>();
  /** Notifications shown (the tests read them). */
  readonly shown: string[] = [];
  private asked = false;

  constructor(private readonly toasts: Toasts) {}

  started(p: CommandStarted): void {
    if (this.lines.size > 200) this.lines.clear(); // ends lost to a reconnect
    this.lines.set(`${p.sessionId}/${p.commandId}`, p.command ?? '');
  }

  finished(p: CommandFinished): void {
    const key = `${p.sessionId}/${p.commandId}`;
    const line = this.lines.get(key) ?? '';
    this.lines.delete(key);
    if (!(p.durationMs >= NOTIFY_AFTER_MS) || lookingAtPage()) return;
    const what = line ? `\`${ellipsis(line, 60)}\`` : 'A command';
    const text = `${what} finished (exit ${p.exitCode ?? '?'}, ${formatDuration(p.durationMs)})`;
    this.shown.push(text);
    if ('Notification' in window && Notification.permission === 'granted') {
      try {
        const n = new Notification(text, { tag: key });
        n.onclick = () => {
          window.focus();
          n.close();
        };
        return;
      } catch {
        /* some browsers only notify from a service worker: toast instead */
      }
    }
    this.toasts.show(p.exitCode === 0 ? 'ok' : 'error', text, undefined, 0);
  }

  /** Asks for permission to notify, once, on a keystroke (browsers only
   * ask the person in answer to something they did). */
  askPermission(): void {
    if (this.asked || !('Notification' in window) || Notification.permission !== 'default') return;
    this.asked = true;
    void Notification.requestPermission().catch(() => {});
  }
}

/** Whether the person is looking: the tab is visible and its window has
 * the focus (a visible tab behind another application counts as away). */
function lookingAtPage(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function ellipsis(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}
