// One xterm.js view of one server session: output in seq order, input,
// size, search, clipboard. Views are cheap; the session lives on the server.
import { Terminal, type IDisposable, type IMarker } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import type { Connection } from './socket';
import type { Settings, Theme } from './theme';
import type { ApiError } from './api';
import { Utf8Stream } from './utf8';

export interface OutputPayload {
  sessionId: string;
  /** The exact bytes (we ask for the binary form; see utf8.ts), or a
   * string from a server that sends only the JSON string form. */
  output: string | ArrayBuffer | Uint8Array;
  seq: number;
  timestamp?: string;
  repaint?: boolean;
  query?: boolean;
}

export interface TermHooks {
  /** Key events the app handles (shortcuts); return true if consumed. */
  shortcut(e: KeyboardEvent): boolean;
  /** Transforms typed input (the key bar's sticky Ctrl). */
  transformInput(data: string): string;
  focused(view: TermView): void;
  inputError(view: TermView, e: ApiError): void;
  copied(ok: boolean, how: string): void;
}

const SEARCH_DECORATIONS = {
  matchOverviewRuler: '#888888',
  activeMatchColorOverviewRuler: '#ffd400',
  matchBackground: '#5a4a00',
  activeMatchBackground: '#b38f00',
};

/** The faint line written above a repaint that replaced skipped output:
 * written on the top row of a reset terminal, then scrolled into the
 * scrollback so that the repaint (which clears the screen) keeps it. */
const SKIP_TEXT = 'output skipped while this tab was behind';
function skipMarker(rows: number): string {
  return `\x1b[2m── ${SKIP_TEXT} ──\x1b[0m\x1b[${rows};1H\n`;
}

export class TermView {
  readonly term: Terminal;
  readonly host: HTMLElement;
  private readonly fitAddon = new FitAddon();
  readonly search = new SearchAddon();
  /** Byte offset just after the last chunk written; -1 until the stream starts. */
  lastSeq = -1;
  /** Decodes binary output; holds a character split between chunks. */
  private readonly utf8 = new Utf8Stream();
  /** Chunks received as bytes and as strings: the tests check which form
   * the page asked for. */
  readonly forms = { bytes: 0, strings: 0 };
  /** Repaints received: the tests tell replays from repaints by it. */
  repaints = 0;
  /** Attached on the current connection. */
  attached = false;
  ended = false;
  private disposables: IDisposable[] = [];
  private sentSize = '';
  /** Drawing at another client's size (the session's), not our own. */
  private adopted = false;
  private adopting = false;
  private fitQueued = false;
  private resizeObs: ResizeObserver;
  /** The prompt of the command being typed or run (OSC 133 A, then C). */
  private promptMark: IMarker | undefined;
  private runningMark: IMarker | undefined;
  private readonly marks: { marker: IMarker; exitCode: number | null }[] = [];

  constructor(
    public sessionId: string,
    private readonly conn: Connection,
    settings: Settings,
    theme: Theme,
    private readonly hooks: TermHooks,
  ) {
    this.host = document.createElement('div');
    this.host.className = 'term-host';
    this.term = new Terminal({
      allowProposedApi: true, // unicode11 and search decorations need it
      fontFamily: '"JetBrains Mono", "Cascadia Mono", "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace',
      fontSize: settings.fontSize,
      cursorBlink: settings.cursorBlink,
      screenReaderMode: settings.screenReader,
      scrollback: 5000,
      theme: theme.term,
      macOptionIsMeta: true,
      rightClickSelectsWord: true,
      allowTransparency: false,
      drawBoldTextInBrightColors: false,
      // xterm.js logs every byte its parser cannot place (a DEL, a stray
      // C1) as a console error: a binary file cat by mistake made thousands,
      // each formatted and kept by the console, and doubled the page's CPU
      // time per MiB of random bytes (BenchmarkPageOutputForms).
      logLevel: 'off',
    });
    this.term.loadAddon(this.fitAddon);
    this.term.loadAddon(this.search);
    this.term.loadAddon(new Unicode11Addon());
    this.term.unicode.activeVersion = '11';
    // Links open in a new tab without handing it our window (no opener).
    this.term.loadAddon(new WebLinksAddon((_e, uri) => window.open(uri, '_blank', 'noopener,noreferrer')));

    this.term.attachCustomKeyEventHandler((e) => this.onKey(e));
    this.disposables.push(
      this.term.onData((d) => this.input(d)),
      this.term.onBinary((d) => this.input(d)),
      this.term.onResize(({ cols, rows }) => {
        if (!this.adopting) this.sendSize(cols, rows);
      }),
    );
    this.disposables.push(this.term.parser.registerOscHandler(133, (data) => this.promptMarkSeen(data)));
    this.host.addEventListener('focusin', () => this.hooks.focused(this));
    this.resizeObs = new ResizeObserver(() => this.queueFit());
  }

  /** Puts the terminal in the page; call once, after host is in the DOM. */
  open(): void {
    this.term.open(this.host);
    this.resizeObs.observe(this.host);
    this.fit();
  }

  /** Asks the server for the stream. After a reconnect lastSeq makes it
   * replay exactly what we missed (or repaint when it no longer can). */
  async attach(): Promise<void> {
    const { cols, rows } = this.term;
    const payload: Record<string, unknown> = { sessionId: this.sessionId, cols, rows };
    if (this.lastSeq >= 0) payload.lastSeq = this.lastSeq;
    await this.conn.request('attach-terminal', payload);
    this.attached = true;
    this.sentSize = `${cols}x${rows}`;
  }

  /** Names the session of a view made before the session existed. */
  bind(sessionId: string): void {
    this.sessionId = sessionId;
  }

  /** Sends bytes as typed, for keys from outside xterm (the key bar). */
  sendRaw(data: string): void {
    if (this.ended) return;
    if (!this.conn.send('terminal-input', { sessionId: this.sessionId, data }, (e) => this.hooks.inputError(this, e))) {
      this.host.dispatchEvent(new CustomEvent('offline-input', { bubbles: true }));
    }
    this.focus();
  }

  /** Marks the view as created by us: the server streams from byte 0. */
  startedAtZero(): void {
    this.lastSeq = 0;
    this.attached = true;
    this.sentSize = `${this.term.cols}x${this.term.rows}`;
  }

  /** The last chunks' [seq, length (bytes, or UTF-16 units for a
   * string), kind]: shown by the tests when a resume goes wrong. */
  readonly recent: [number, number, string][] = [];

  write(p: OutputPayload): void {
    const bytes = typeof p.output === 'string' ? null : p.output instanceof Uint8Array ? p.output : new Uint8Array(p.output);
    const len = bytes ? bytes.length : (p.output as string).length;
    if (bytes) this.forms.bytes++;
    else this.forms.strings++;
    this.recent.push([p.seq, len, p.query ? 'query' : p.repaint ? 'repaint' : p.seq <= this.lastSeq ? 'dup' : 'out']);
    if (this.recent.length > 40) this.recent.shift();
    if (p.query) {
      // A terminal query (cursor position, device attributes) for us to
      // answer; it is not part of the byte stream and carries no new seq.
      this.term.write(bytes ? new Utf8Stream().decode(bytes) : (p.output as string));
      return;
    }
    if (p.repaint) {
      // A repaint is the whole screen, scrollback first; it replaces what
      // we show, whatever that was.
      const skipped = this.lastSeq >= 0;
      this.term.reset();
      this.promptMark = this.runningMark = undefined;
      this.utf8.reset();
      // A repaint once the stream had started stands in for output this
      // tab was not sent (it fell behind the fastest client, or was away
      // longer than the server's ring reaches): a faint line says so
      // above the history the repaint brings.
      if (skipped) this.term.write(skipMarker(this.term.rows));
      this.writeText(this.decoded(p.output, bytes));
      this.lastSeq = p.seq;
      this.repaints++;
      return;
    }
    if (this.lastSeq >= 0 && p.seq <= this.lastSeq) return; // already written (replay overlap)
    this.writeText(this.decoded(p.output, bytes));
    this.lastSeq = p.seq;
  }

  /** Shell integration marks as the stream is parsed, so they land on the
   * right line even in a replay: a finished command's prompt gets a green
   * (exit 0) or red bar in the left margin and on the scrollbar. */
  private promptMarkSeen(data: string): boolean {
    const [kind, code] = data.split(';');
    switch (kind) {
      case 'A':
        this.promptMark?.dispose(); // a prompt that ran nothing (an empty line)
        this.promptMark = this.term.registerMarker(0);
        break;
      case 'C':
        if (!this.runningMark) {
          // Without the prompt's mark (it came before a repaint), the line
          // above: the command line was just echoed with its newline.
          this.runningMark = this.promptMark ?? this.term.registerMarker(-1);
          this.promptMark = undefined;
        }
        break;
      case 'D': {
        const marker = this.runningMark;
        this.runningMark = undefined;
        if (!marker || marker.isDisposed) break;
        const n = code === undefined || code === '' ? NaN : Number(code);
        const exitCode = Number.isInteger(n) ? n : null;
        const ok = exitCode === 0;
        this.marks.push({ marker, exitCode });
        marker.onDispose(() => {
          const i = this.marks.findIndex((m) => m.marker === marker);
          if (i >= 0) this.marks.splice(i, 1);
        });
        const deco = this.term.registerDecoration({
          marker,
          x: 0,
          width: 1,
          layer: 'top',
          overviewRulerOptions: { color: ok ? '#3fb950' : '#f85149', position: 'left' },
        });
        deco?.onRender((el) => {
          el.classList.add('cmd-mark', ok ? 'cmd-ok' : 'cmd-fail');
          el.title = exitCode === null ? 'Command finished' : `Exit status ${exitCode}`;
        });
        break;
      }
    }
    return true;
  }

  /** Finished commands' marks: the buffer line and exit status (tests). */
  commandMarks(): { line: number; exitCode: number | null }[] {
    return this.marks.map((m) => ({ line: m.marker.line, exitCode: m.exitCode }));
  }

  /** Output waited for by whenWritten, with the end of the text seen so
   * far (a marker may be split between chunks). */
  private watchers: { marker: string; tail: string; done: () => void }[] = [];

  /** Resolves once xterm.js has parsed output holding marker (its write
   * callback, not a poll of the buffer): the browser benchmark's clock. */
  whenWritten(marker: string): Promise<void> {
    return new Promise((done) => this.watchers.push({ marker, tail: '', done }));
  }

  private writeText(text: string): void {
    if (!this.watchers.length) {
      this.term.write(text);
      return;
    }
    const hit: (() => void)[] = [];
    this.watchers = this.watchers.filter((w) => {
      const seen = w.tail + text;
      if (seen.includes(w.marker)) {
        hit.push(w.done);
        return false;
      }
      w.tail = seen.slice(seen.length - (w.marker.length - 1));
      return true;
    });
    this.term.write(text, hit.length ? () => hit.forEach((d) => d()) : undefined);
  }

  /** The output as text: bytes decoded as the server's screen does. */
  private decoded(output: OutputPayload['output'], bytes: Uint8Array | null): string {
    return bytes ? this.utf8.decode(bytes) : (output as string);
  }

  /** The session's process is gone; keep the screen readable. */
  markEnded(message: string): void {
    if (this.ended) return;
    this.ended = true;
    this.attached = false;
    this.term.write(this.utf8.flush() + `\r\n\x1b[2m[${message}]\x1b[0m\r\n`);
    this.host.classList.add('ended');
  }

  applySettings(settings: Settings, theme: Theme): void {
    const o = this.term.options;
    o.theme = theme.term;
    o.cursorBlink = settings.cursorBlink;
    o.screenReaderMode = settings.screenReader;
    if (o.fontSize !== settings.fontSize) {
      o.fontSize = settings.fontSize;
      this.queueFit();
    }
  }

  focus(): void {
    this.term.focus();
  }

  queueFit(): void {
    if (this.fitQueued) return;
    this.fitQueued = true;
    requestAnimationFrame(() => {
      this.fitQueued = false;
      this.fit();
    });
  }

  fit(): void {
    // A hidden host measures 0x0; fitting then would shrink the PTY to
    // nothing for every viewer.
    if (!this.host.isConnected || this.host.clientWidth < 20 || this.host.clientHeight < 20) return;
    try {
      this.fitAddon.fit();
    } catch {
      /* not rendered yet */
    }
  }

  /** Sends the size again: after focus the server makes the most recently
   * active client's size the PTY's. */
  resendSize(): void {
    this.reclaimSize();
    this.sentSize = '';
    this.sendSize(this.term.cols, this.term.rows);
  }

  /** Draws at the session's size, set by the most recently active client,
   * so the screen is not garbled when that client is smaller or larger than
   * this pane. Nothing is sent: answering would make us the latest client
   * and start a resize war. Typing or focusing here takes the size back. */
  adoptSize(cols: number, rows: number): void {
    if (!(cols > 0 && rows > 0) || (cols === this.term.cols && rows === this.term.rows)) return;
    this.adopting = true;
    try {
      this.term.resize(cols, rows);
    } finally {
      this.adopting = false;
    }
    this.adopted = true;
  }

  /** Back to our own pane's size after adoptSize. */
  private reclaimSize(): void {
    if (!this.adopted) return;
    this.adopted = false;
    this.fit();
  }

  copySelection(): void {
    const text = this.term.getSelection();
    if (!text) {
      this.hooks.copied(false, 'Nothing selected');
      return;
    }
    copyText(text).then(
      () => this.hooks.copied(true, 'Copied'),
      () => this.hooks.copied(false, 'The browser refused clipboard access'),
    );
  }

  async pasteFromClipboard(): Promise<void> {
    try {
      const text = await navigator.clipboard.readText();
      if (text) this.term.paste(text);
    } catch {
      this.hooks.copied(false, 'Paste with Ctrl+V (or your browser menu): clipboard reading is not allowed here');
    }
    this.focus();
  }

  /** Everything in the buffer as plain text: the test hook and "copy all". */
  text(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  dispose(detach: boolean): void {
    this.resizeObs.disconnect();
    if (detach && this.attached && this.conn.connected) this.conn.send('detach-terminal', { sessionId: this.sessionId });
    this.attached = false;
    for (const d of this.disposables) d.dispose();
    this.term.dispose();
    this.host.remove();
  }

  private input(data: string): void {
    if (this.ended || !this.sessionId) return;
    this.reclaimSize(); // typing makes us the latest client: our size again
    const d = this.hooks.transformInput(data);
    const sent = this.conn.send('terminal-input', { sessionId: this.sessionId, data: d }, (e) => this.hooks.inputError(this, e));
    if (!sent) this.host.dispatchEvent(new CustomEvent('offline-input', { bubbles: true }));
  }

  private sendSize(cols: number, rows: number): void {
    const key = `${cols}x${rows}`;
    if (key === this.sentSize || !this.attached || this.ended) return;
    if (this.conn.send('terminal-resize', { sessionId: this.sessionId, cols, rows })) this.sentSize = key;
  }

  private onKey(e: KeyboardEvent): boolean {
    if (e.type !== 'keydown') return true;
    if (e.ctrlKey && e.shiftKey && !e.altKey && !e.metaKey) {
      if (e.code === 'KeyC') {
        e.preventDefault();
        this.copySelection();
        return false;
      }
      if (e.code === 'KeyV') {
        // Let the browser's paste event reach xterm: it works on plain
        // http too, where the async clipboard API does not.
        return false;
      }
    }
    if (this.hooks.shortcut(e)) {
      e.preventDefault();
      return false;
    }
    return true;
  }
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on a LAN address has no async clipboard; the old way works.
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy refused');
}

export { SEARCH_DECORATIONS };
