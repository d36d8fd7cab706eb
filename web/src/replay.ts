// Replays a session's recording at /r/<sessionId> with asciinema-player,
// loaded on demand (its chunk is built apart), with seek and speed.
import type { Player } from 'asciinema-player';
import { getToken } from './api';
import type { App, View } from './app';
import { h } from './dom';

// Set by scripts/build.mjs to the player chunk's hashed paths.
declare const __PLAYER_JS__: string;
declare const __PLAYER_CSS__: string;

type PlayerModule = typeof import('./player');

let loading: Promise<PlayerModule> | null = null;

/** Loads the player chunk and its styles once. */
function loadPlayer(): Promise<PlayerModule> {
  if (!loading) {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = __PLAYER_CSS__;
    document.head.append(css);
    const url = __PLAYER_JS__;
    loading = import(/* webpackIgnore: true */ url) as Promise<PlayerModule>;
  }
  return loading;
}

const SPEEDS = [0.5, 1, 2, 4, 8];

export class ReplayView implements View {
  readonly el: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly status: HTMLElement;
  private readonly speedSel: HTMLSelectElement;
  private readonly seekInput: HTMLInputElement;
  private player: Player | null = null;
  private disposed = false;

  constructor(
    app: App,
    private readonly sessionId: string,
  ) {
    this.stage = h('div', { class: 'replay-stage' });
    this.status = h('span', { class: 'muted', role: 'status' }, 'Loading the recording…');
    this.speedSel = h(
      'select',
      { 'aria-label': 'Speed', class: 'replay-speed', onchange: () => void this.mount(this.currentTime()) },
      SPEEDS.map((s) => h('option', { value: String(s), selected: s === 1 }, `${s}×`)),
    );
    this.seekInput = h('input', { type: 'number', min: '0', step: '0.5', value: '0', 'aria-label': 'Seek to second', class: 'replay-seek' });
    const seekBtn = h('button', { type: 'button', class: 'btn', onclick: () => void this.player?.seek(Number(this.seekInput.value) || 0) }, 'Go');
    this.el = h(
      'div',
      { class: 'screen replay' },
      app.header([h('span', { class: 'crumb' }, 'Recording')]),
      h('div', { class: 'shared-bar' }, h('strong', {}, sessionId), this.status, h('div', { class: 'spacer' }), h('label', {}, 'Speed ', this.speedSel), h('label', {}, 'Seek (s) ', this.seekInput), seekBtn),
      h('main', { class: 'replay-main', id: 'main', tabindex: -1 }, this.stage),
    );
    document.title = 'Recording · codeterm';
    app.connection(); // the header's indicator, and a revoked sign-in noticed
    void this.mount(0);
  }

  private currentTime(): number {
    return this.player?.getCurrentTime() ?? 0;
  }

  /** (Re)creates the player at a time and the selected speed: the player
   * takes its speed when created. */
  private async mount(at: number): Promise<void> {
    let mod: PlayerModule;
    try {
      mod = await loadPlayer();
    } catch (e) {
      this.status.textContent = `Could not load the player: ${(e as Error).message}`;
      return;
    }
    if (this.disposed) return;
    const resume = this.player !== null; // a speed change keeps playing
    this.player?.dispose();
    this.stage.replaceChildren();
    const speed = Number(this.speedSel.value) || 1;
    this.player = mod.create(
      { url: `/api/sessions/${encodeURIComponent(this.sessionId)}/recording`, fetchOpts: { headers: { Authorization: `Bearer ${getToken() ?? ''}` } } },
      this.stage,
      { speed, startAt: at, autoPlay: resume, preload: true, fit: 'width', idleTimeLimit: 2, controls: true },
    );
    this.player.addEventListener('play', () => (this.status.textContent = `Playing at ${speed}×`));
    this.player.addEventListener('pause', () => (this.status.textContent = 'Paused'));
    this.player.addEventListener('ended', () => (this.status.textContent = 'Ended'));
    this.status.textContent = 'Ready';
    this.el.dataset.ready = 'true';
  }

  /** For the browser tests (window.__codeterm). */
  get replayPlayer(): Player | null {
    return this.player;
  }

  dispose(): void {
    this.disposed = true;
    this.player?.dispose();
  }
}
