// Colour themes for the terminal and the page, and the user's display
// settings, kept in localStorage so every tab of this browser agrees.
import type { ITheme } from '@xterm/xterm';

export interface Theme {
  id: string;
  label: string;
  dark: boolean;
  term: ITheme;
  /** Page colours, set as CSS custom properties on <html>. */
  ui: Record<'bg' | 'surface' | 'raised' | 'border' | 'fg' | 'muted' | 'accent' | 'accentFg' | 'danger' | 'ok' | 'warn', string>;
}

const ansiDark = {
  black: '#1b1f27', red: '#f0717a', green: '#8fd08f', yellow: '#e8c66f', blue: '#6ab0f3', magenta: '#c594e8', cyan: '#5fd1d1', white: '#c9d1d9',
  brightBlack: '#5c6675', brightRed: '#ff8d94', brightGreen: '#a6e3a6', brightYellow: '#f5d98b', brightBlue: '#8cc4ff', brightMagenta: '#d7b0f5', brightCyan: '#84e3e3', brightWhite: '#f2f5f8',
};

export const THEMES: Theme[] = [
  {
    id: 'midnight', label: 'Midnight (dark)', dark: true,
    term: { background: '#0f1218', foreground: '#d6dde6', cursor: '#7cc4ff', cursorAccent: '#0f1218', selectionBackground: '#2d4a6b', ...ansiDark },
    ui: { bg: '#0b0e13', surface: '#12161d', raised: '#1a2029', border: '#262e3a', fg: '#dbe2ea', muted: '#8b97a6', accent: '#5aa9f5', accentFg: '#06121f', danger: '#f0717a', ok: '#7fcf8a', warn: '#e8c66f' },
  },
  {
    id: 'daylight', label: 'Daylight (light)', dark: false,
    term: {
      background: '#fbfbfa', foreground: '#24292f', cursor: '#0b62d6', cursorAccent: '#fbfbfa', selectionBackground: '#b7d4fb',
      black: '#24292f', red: '#c4314b', green: '#2f7d32', yellow: '#8a6100', blue: '#0b62d6', magenta: '#8a3fb8', cyan: '#10768a', white: '#6e7781',
      brightBlack: '#57606a', brightRed: '#d9485f', brightGreen: '#3c9a40', brightYellow: '#a27000', brightBlue: '#2f7ef0', brightMagenta: '#a05ccc', brightCyan: '#168ea6', brightWhite: '#8c959f',
    },
    ui: { bg: '#eef0f3', surface: '#ffffff', raised: '#f5f6f8', border: '#d4d9e0', fg: '#1d232b', muted: '#5d6875', accent: '#0b62d6', accentFg: '#ffffff', danger: '#c4314b', ok: '#2f7d32', warn: '#8a6100' },
  },
  {
    id: 'solarized-dark', label: 'Solarized dark', dark: true,
    term: {
      background: '#002b36', foreground: '#93a1a1', cursor: '#93a1a1', cursorAccent: '#002b36', selectionBackground: '#0a4d5c',
      black: '#073642', red: '#dc322f', green: '#859900', yellow: '#b58900', blue: '#268bd2', magenta: '#d33682', cyan: '#2aa198', white: '#eee8d5',
      brightBlack: '#586e75', brightRed: '#cb4b16', brightGreen: '#93a1a1', brightYellow: '#839496', brightBlue: '#839496', brightMagenta: '#6c71c4', brightCyan: '#93a1a1', brightWhite: '#fdf6e3',
    },
    ui: { bg: '#00222b', surface: '#002b36', raised: '#073642', border: '#0e4a58', fg: '#c5cfcf', muted: '#839496', accent: '#2aa198', accentFg: '#002b36', danger: '#dc322f', ok: '#859900', warn: '#b58900' },
  },
  {
    id: 'solarized-light', label: 'Solarized light', dark: false,
    term: {
      background: '#fdf6e3', foreground: '#586e75', cursor: '#586e75', cursorAccent: '#fdf6e3', selectionBackground: '#e6dcbc',
      black: '#073642', red: '#dc322f', green: '#859900', yellow: '#b58900', blue: '#268bd2', magenta: '#d33682', cyan: '#2aa198', white: '#93a1a1',
      brightBlack: '#002b36', brightRed: '#cb4b16', brightGreen: '#586e75', brightYellow: '#657b83', brightBlue: '#839496', brightMagenta: '#6c71c4', brightCyan: '#93a1a1', brightWhite: '#eee8d5',
    },
    ui: { bg: '#f3ecd6', surface: '#fdf6e3', raised: '#eee8d5', border: '#d9cfb0', fg: '#3b4d53', muted: '#657b83', accent: '#268bd2', accentFg: '#fdf6e3', danger: '#dc322f', ok: '#5f7000', warn: '#8c6a00' },
  },
  {
    id: 'contrast', label: 'High contrast (dark)', dark: true,
    term: {
      background: '#000000', foreground: '#ffffff', cursor: '#ffff00', cursorAccent: '#000000', selectionBackground: '#264f78',
      ...ansiDark, black: '#000000', white: '#e5e5e5', brightWhite: '#ffffff',
    },
    ui: { bg: '#000000', surface: '#000000', raised: '#111111', border: '#8a8a8a', fg: '#ffffff', muted: '#d0d0d0', accent: '#ffd400', accentFg: '#000000', danger: '#ff6b6b', ok: '#7CFC00', warn: '#ffd400' },
  },
];

export interface Settings {
  theme: string;
  fontSize: number;
  screenReader: boolean;
  cursorBlink: boolean;
  sidePanel: boolean;
}

const KEY = 'codeterm.settings';
export const FONT_MIN = 8;
export const FONT_MAX = 32;

export function defaultSettings(): Settings {
  const narrow = window.matchMedia('(max-width: 720px)').matches;
  return { theme: 'midnight', fontSize: narrow ? 13 : 14, screenReader: false, cursorBlink: true, sidePanel: !narrow };
}

export function loadSettings(): Settings {
  const s = defaultSettings();
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? '{}');
    if (typeof raw.theme === 'string' && THEMES.some((t) => t.id === raw.theme)) s.theme = raw.theme;
    if (typeof raw.fontSize === 'number') s.fontSize = clampFont(raw.fontSize);
    if (typeof raw.screenReader === 'boolean') s.screenReader = raw.screenReader;
    if (typeof raw.cursorBlink === 'boolean') s.cursorBlink = raw.cursorBlink;
    if (typeof raw.sidePanel === 'boolean') s.sidePanel = raw.sidePanel;
  } catch {
    /* unreadable settings: the defaults */
  }
  return s;
}

export function saveSettings(s: Settings): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(s));
  } catch {
    /* private mode: settings last this page only */
  }
}

export function clampFont(n: number): number {
  return Math.min(FONT_MAX, Math.max(FONT_MIN, Math.round(n)));
}

export function themeById(id: string): Theme {
  return THEMES.find((t) => t.id === id) ?? THEMES[0];
}

/** Paints the page chrome; terminals take `theme.term` themselves. */
export function applyTheme(t: Theme): void {
  const root = document.documentElement;
  for (const [k, v] of Object.entries(t.ui)) root.style.setProperty(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, v);
  root.style.setProperty('--term-bg', t.term.background ?? t.ui.surface);
  root.style.colorScheme = t.dark ? 'dark' : 'light';
  document.querySelector('meta[name="theme-color"]')?.setAttribute('content', t.ui.bg);
}
