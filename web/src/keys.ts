// Keyboard shortcuts (all Ctrl+Shift, which shells and editors leave alone
// and browsers let pages take) and the on-screen key bar for phones.
import { h } from './dom';

export type Action =
  | 'new-terminal'
  | 'split-right'
  | 'split-down'
  | 'close-pane'
  | 'next-pane'
  | 'prev-pane'
  | 'next-tab'
  | 'prev-tab'
  | 'search'
  | 'rename'
  | 'font-bigger'
  | 'font-smaller'
  | 'font-reset'
  | 'side-panel'
  | 'help'
  | 'focus-tabs'
  | 'workspaces';

interface Shortcut {
  action: Action;
  keys: string;
  label: string;
  code: string;
  /** Needs Ctrl+Shift (else: the bare key, for F-keys). */
  chord: boolean;
}

export const SHORTCUTS: Shortcut[] = [
  { action: 'new-terminal', keys: 'Ctrl+Shift+E', label: 'New terminal', code: 'KeyE', chord: true },
  { action: 'split-right', keys: 'Ctrl+Shift+D', label: 'Split right (side by side)', code: 'KeyD', chord: true },
  { action: 'split-down', keys: 'Ctrl+Shift+S', label: 'Split down (stacked)', code: 'KeyS', chord: true },
  { action: 'close-pane', keys: 'Ctrl+Shift+X', label: 'Close pane (the session keeps running)', code: 'KeyX', chord: true },
  { action: 'next-pane', keys: 'Ctrl+Shift+→', label: 'Next pane', code: 'ArrowRight', chord: true },
  { action: 'prev-pane', keys: 'Ctrl+Shift+←', label: 'Previous pane', code: 'ArrowLeft', chord: true },
  { action: 'focus-tabs', keys: 'Ctrl+Shift+↑', label: 'Leave the terminal: focus the session tabs', code: 'ArrowUp', chord: true },
  { action: 'next-tab', keys: 'Ctrl+Shift+PageDown', label: 'Next session in this pane', code: 'PageDown', chord: true },
  { action: 'prev-tab', keys: 'Ctrl+Shift+PageUp', label: 'Previous session in this pane', code: 'PageUp', chord: true },
  { action: 'search', keys: 'Ctrl+Shift+F', label: 'Search the terminal', code: 'KeyF', chord: true },
  { action: 'rename', keys: 'F2', label: 'Rename the session', code: 'F2', chord: false },
  { action: 'font-bigger', keys: 'Ctrl+Shift+.', label: 'Bigger font', code: 'Period', chord: true },
  { action: 'font-smaller', keys: 'Ctrl+Shift+,', label: 'Smaller font', code: 'Comma', chord: true },
  { action: 'font-reset', keys: 'Ctrl+Shift+0', label: 'Default font size', code: 'Digit0', chord: true },
  { action: 'side-panel', keys: 'Ctrl+Shift+B', label: 'Show or hide the side panel', code: 'KeyB', chord: true },
  { action: 'workspaces', keys: 'Ctrl+Shift+O', label: 'Back to the workspace list', code: 'KeyO', chord: true },
  { action: 'help', keys: 'Ctrl+Shift+/ or F1', label: 'This list of shortcuts', code: 'Slash', chord: true },
];

/** Fixed keys handled by the terminal or the browser, listed for completeness. */
export const OTHER_KEYS: [string, string][] = [
  ['Ctrl+Shift+C', 'Copy the selection'],
  ['Ctrl+Shift+V', 'Paste'],
  ['Enter / Shift+Enter', 'Next / previous match (in search)'],
  ['Esc', 'Close search or a dialog'],
  ['←/→ Home End', 'Move between session tabs; Delete kills, F2 renames'],
  ['Tab / Shift+Tab', 'Move between controls (inside a terminal Tab goes to the shell: Ctrl+Shift+↑ leaves it)'],
];

export function matchShortcut(e: KeyboardEvent): Action | null {
  if (e.type !== 'keydown' || e.altKey || e.metaKey) return null;
  if (e.key === 'F1' && !e.ctrlKey && !e.shiftKey) return 'help';
  for (const s of SHORTCUTS) {
    if (s.code !== e.code) continue;
    if (s.chord ? e.ctrlKey && e.shiftKey : !e.ctrlKey && !e.shiftKey) return s.action;
  }
  return null;
}

interface BarKey {
  label: string;
  aria: string;
  seq?: string;
  ctrl?: boolean;
}

const BAR: BarKey[] = [
  { label: 'Esc', aria: 'Escape', seq: '\x1b' },
  { label: 'Tab', aria: 'Tab', seq: '\t' },
  { label: 'Ctrl', aria: 'Control (applies to the next key)', ctrl: true },
  { label: '←', aria: 'Left arrow', seq: '\x1b[D' },
  { label: '↑', aria: 'Up arrow', seq: '\x1b[A' },
  { label: '↓', aria: 'Down arrow', seq: '\x1b[B' },
  { label: '→', aria: 'Right arrow', seq: '\x1b[C' },
  { label: '|', aria: 'Pipe', seq: '|' },
  { label: '~', aria: 'Tilde', seq: '~' },
  { label: '/', aria: 'Slash', seq: '/' },
  { label: '-', aria: 'Dash', seq: '-' },
];

/** The key bar: keys a phone keyboard lacks. Ctrl is sticky: it applies to
 * the next key typed, on the bar or the phone's keyboard. */
export class KeyBar {
  readonly el: HTMLElement;
  private ctrl = false;
  private ctrlBtn: HTMLButtonElement | null = null;

  constructor(private readonly send: (data: string) => void) {
    this.el = h('div', { class: 'keybar', role: 'toolbar', 'aria-label': 'Extra keys' });
    for (const k of BAR) {
      const b = h('button', { type: 'button', class: 'key', 'aria-label': k.aria }, k.label);
      if (k.ctrl) {
        b.setAttribute('aria-pressed', 'false');
        this.ctrlBtn = b;
      }
      // pointerdown + preventDefault keeps focus (and the phone keyboard)
      // in the terminal; click alone would blur it.
      b.addEventListener('pointerdown', (e) => e.preventDefault());
      b.addEventListener('click', () => {
        if (k.ctrl) this.setCtrl(!this.ctrl);
        else if (k.seq) this.send(this.transform(k.seq));
      });
      this.el.append(b);
    }
  }

  /** Applies a pending Ctrl to typed input. */
  transform(data: string): string {
    if (!this.ctrl) return data;
    this.setCtrl(false);
    if (data.length !== 1) {
      // Ctrl+arrow: the xterm modifier form (1;5).
      const m = /^\x1b\[([ABCD])$/.exec(data);
      return m ? `\x1b[1;5${m[1]}` : data;
    }
    const c = data.toLowerCase().charCodeAt(0);
    if (c >= 97 && c <= 122) return String.fromCharCode(c - 96); // a..z → ^A..^Z
    const special: Record<string, string> = { '@': '\x00', ' ': '\x00', '[': '\x1b', '\\': '\x1c', ']': '\x1d', '^': '\x1e', _: '\x1f', '?': '\x7f' };
    return special[data] ?? data;
  }

  private setCtrl(on: boolean): void {
    this.ctrl = on;
    this.ctrlBtn?.setAttribute('aria-pressed', String(on));
    this.ctrlBtn?.classList.toggle('on', on);
  }
}
