// CodeMirror 6, loaded on first use as a chunk of its own (see editor.ts):
// the terminal page does not pay for the editor until a file is opened.
// Each language is a further chunk, loaded by file extension.
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, foldGutter, foldKeymap, indentOnInput, LanguageSupport, StreamLanguage, syntaxHighlighting, type StreamParser } from '@codemirror/language';
import { highlightSelectionMatches, search, searchKeymap } from '@codemirror/search';
import { Compartment, EditorState } from '@codemirror/state';
import { oneDark } from '@codemirror/theme-one-dark';
import { crosshairCursor, drawSelection, dropCursor, EditorView, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers, rectangularSelection } from '@codemirror/view';

type Loader = () => Promise<LanguageSupport | StreamLanguage<unknown>>;
const legacy = (p: Promise<StreamParser<unknown>>) => p.then((m) => StreamLanguage.define(m));

const LANGS: [RegExp, Loader][] = [
  [/\.(m|c)?jsx?$/i, () => import('@codemirror/lang-javascript').then((m) => m.javascript({ jsx: true }))],
  [/\.(m|c)?tsx?$/i, () => import('@codemirror/lang-javascript').then((m) => m.javascript({ typescript: true, jsx: true }))],
  [/\.py$/i, () => import('@codemirror/lang-python').then((m) => m.python())],
  [/\.(json|jsonc)$/i, () => import('@codemirror/lang-json').then((m) => m.json())],
  [/\.(html?|vue|svelte)$/i, () => import('@codemirror/lang-html').then((m) => m.html())],
  [/\.(css|scss|less)$/i, () => import('@codemirror/lang-css').then((m) => m.css())],
  [/\.(md|markdown)$/i, () => import('@codemirror/lang-markdown').then((m) => m.markdown())],
  [/\.go$/i, () => import('@codemirror/lang-go').then((m) => m.go())],
  [/\.rs$/i, () => import('@codemirror/lang-rust').then((m) => m.rust())],
  [/\.(c|h|cc|cpp|cxx|hpp|hh)$/i, () => import('@codemirror/lang-cpp').then((m) => m.cpp())],
  [/\.(java|kt)$/i, () => import('@codemirror/lang-java').then((m) => m.java())],
  [/\.(ya?ml)$/i, () => import('@codemirror/lang-yaml').then((m) => m.yaml())],
  [/(\.(sh|bash|zsh)|^\.?(bashrc|profile|zshrc))$/i, () => legacy(import('@codemirror/legacy-modes/mode/shell').then((m) => m.shell))],
  [/\.toml$/i, () => legacy(import('@codemirror/legacy-modes/mode/toml').then((m) => m.toml))],
  [/(^|\/)Dockerfile[^/]*$/, () => legacy(import('@codemirror/legacy-modes/mode/dockerfile').then((m) => m.dockerFile))],
  [/\.(rb|gemspec)$|(^|\/)(Gemfile|Rakefile)$/, () => legacy(import('@codemirror/legacy-modes/mode/ruby').then((m) => m.ruby))],
  [/\.sql$/i, () => legacy(import('@codemirror/legacy-modes/mode/sql').then((m) => m.standardSQL))],
  [/(^|\/)(Makefile|GNUmakefile)$|\.mk$/, () => legacy(import('@codemirror/legacy-modes/mode/shell').then((m) => m.shell))],
];

export interface EditorHooks {
  changed(dirty: boolean): void;
  save(): void;
}

export interface Editor {
  readonly view: EditorView;
  text(): string;
  /** Replaces the content and makes it the clean state. */
  reset(text: string): void;
  markClean(): void;
  focus(): void;
  destroy(): void;
}

export function createEditor(parent: HTMLElement, path: string, text: string, dark: boolean, hooks: EditorHooks): Editor {
  const lang = new Compartment();
  let clean = text;
  let wasDirty = false;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        foldGutter(),
        drawSelection(),
        dropCursor(),
        EditorState.allowMultipleSelections.of(true),
        indentOnInput(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        bracketMatching(),
        rectangularSelection(),
        crosshairCursor(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        search({ top: true }),
        dark ? oneDark : [],
        lang.of([]),
        EditorView.contentAttributes.of({ 'aria-label': `Contents of ${path}` }),
        keymap.of([
          { key: 'Mod-s', preventDefault: true, run: () => (hooks.save(), true) },
          indentWithTab,
          ...defaultKeymap,
          ...searchKeymap,
          ...historyKeymap,
          ...foldKeymap,
        ]),
        EditorView.updateListener.of((u) => {
          if (!u.docChanged) return;
          const dirty = u.state.doc.toString() !== clean;
          if (dirty !== wasDirty) {
            wasDirty = dirty;
            hooks.changed(dirty);
          }
        }),
      ],
    }),
  });
  const name = path.split('/').pop() ?? path;
  const loader = LANGS.find(([re]) => re.test(name) || re.test(path))?.[1];
  if (loader) {
    loader().then(
      (l) => view.dispatch({ effects: lang.reconfigure(l) }),
      () => {},
    );
  }
  return {
    view,
    text: () => view.state.doc.toString(),
    reset(t: string) {
      clean = t;
      wasDirty = false;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } });
      hooks.changed(false);
    },
    markClean() {
      clean = view.state.doc.toString();
      wasDirty = false;
      hooks.changed(false);
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
