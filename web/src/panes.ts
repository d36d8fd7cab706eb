// Split panes: a binary tree of leaves (one terminal each) and splits
// (side by side or stacked, with a draggable, keyboard-movable divider).
import { h } from './dom';
import type { TermView } from './terminal';

export type Dir = 'row' | 'column';

export interface Leaf {
  kind: 'leaf';
  id: number;
  el: HTMLElement;
  header: HTMLElement;
  body: HTMLElement;
  view: TermView | null;
}

interface Split {
  kind: 'split';
  dir: Dir;
  ratio: number;
  a: Node;
  b: Node;
}

type Node = Leaf | Split;

/** What sessionStorage keeps so a reload brings the layout back. */
export type Layout = { s: string | null } | { d: Dir; r: number; a: Layout; b: Layout };

export interface PaneHooks {
  focusLeaf(leaf: Leaf): void;
  /** Divider moved or panes changed size: terminals refit. */
  resized(): void;
}

const MIN_RATIO = 0.1;

export class Panes {
  readonly el: HTMLElement;
  private root: Node;
  focused: Leaf;
  private nextId = 1;

  constructor(private readonly hooks: PaneHooks) {
    this.el = h('div', { class: 'panes' });
    this.focused = this.newLeaf();
    this.root = this.focused;
    this.render();
  }

  leaves(): Leaf[] {
    const out: Leaf[] = [];
    const walk = (n: Node): void => {
      if (n.kind === 'leaf') out.push(n);
      else {
        walk(n.a);
        walk(n.b);
      }
    };
    walk(this.root);
    return out;
  }

  leafOf(sessionId: string): Leaf | undefined {
    return this.leaves().find((l) => l.view?.sessionId === sessionId);
  }

  /** Splits a leaf; the new, empty leaf comes after it (right or below). */
  split(leaf: Leaf, dir: Dir): Leaf {
    const fresh = this.newLeaf();
    this.replace(leaf, { kind: 'split', dir, ratio: 0.5, a: leaf, b: fresh });
    this.render();
    return fresh;
  }

  /** Removes a leaf; its sibling takes the space. The last leaf stays. */
  close(leaf: Leaf): Leaf {
    if (this.root === leaf) return leaf;
    const parent = this.parentOf(leaf);
    if (!parent) return leaf;
    const sibling = parent.a === leaf ? parent.b : parent.a;
    this.replace(parent, sibling);
    leaf.el.remove();
    if (this.focused === leaf) this.focused = firstLeaf(sibling);
    this.render();
    return this.focused;
  }

  setFocused(leaf: Leaf): void {
    if (this.focused === leaf) return;
    this.focused = leaf;
    for (const l of this.leaves()) l.el.classList.toggle('focused', l === leaf);
  }

  /** The next or previous leaf in reading order, wrapping. */
  neighbour(leaf: Leaf, step: 1 | -1): Leaf {
    const all = this.leaves();
    const i = all.indexOf(leaf);
    return all[(i + step + all.length) % all.length];
  }

  layout(): Layout {
    const ser = (n: Node): Layout => (n.kind === 'leaf' ? { s: n.view?.sessionId ?? null } : { d: n.dir, r: n.ratio, a: ser(n.a), b: ser(n.b) });
    return ser(this.root);
  }

  /** Rebuilds the tree from a saved layout; returns the leaves with the
   * session each should show. */
  restore(layout: Layout): { leaf: Leaf; sessionId: string | null }[] {
    const wanted: { leaf: Leaf; sessionId: string | null }[] = [];
    const build = (l: Layout, depth: number): Node => {
      if ('s' in l || depth > 6) {
        const leaf = this.newLeaf();
        wanted.push({ leaf, sessionId: 's' in l ? l.s : null });
        return leaf;
      }
      const ratio = typeof l.r === 'number' ? clamp(l.r) : 0.5;
      return { kind: 'split', dir: l.d === 'column' ? 'column' : 'row', ratio, a: build(l.a, depth + 1), b: build(l.b, depth + 1) };
    };
    for (const l of this.leaves()) l.el.remove();
    this.root = build(layout, 0);
    this.focused = firstLeaf(this.root);
    this.render();
    return wanted;
  }

  /** Labels each pane header when there is more than one pane. */
  setHeader(leaf: Leaf, title: string, detail: string): void {
    leaf.header.replaceChildren(h('span', { class: 'pane-title' }, title), h('span', { class: 'pane-detail' }, detail));
    leaf.el.setAttribute('aria-label', `Terminal ${title}`);
  }

  private newLeaf(): Leaf {
    const header = h('div', { class: 'pane-header' });
    const body = h('div', { class: 'pane-body' });
    const el = h('section', { class: 'pane', role: 'region' }, header, body);
    const leaf: Leaf = { kind: 'leaf', id: this.nextId++, el, header, body, view: null };
    // Capture phase: the click that focuses xterm's textarea also picks the pane.
    el.addEventListener('pointerdown', () => this.hooks.focusLeaf(leaf), true);
    el.addEventListener('focusin', () => this.hooks.focusLeaf(leaf));
    return leaf;
  }

  private parentOf(target: Node): Split | null {
    const find = (n: Node): Split | null => {
      if (n.kind === 'leaf') return null;
      if (n.a === target || n.b === target) return n;
      return find(n.a) ?? find(n.b);
    };
    return find(this.root);
  }

  private replace(old: Node, next: Node): void {
    if (this.root === old) {
      this.root = next;
      return;
    }
    const p = this.parentOf(old);
    if (p) {
      if (p.a === old) p.a = next;
      else p.b = next;
    }
  }

  private render(): void {
    const many = this.root.kind === 'split';
    this.el.classList.toggle('multi', many);
    this.el.replaceChildren(this.renderNode(this.root));
    for (const l of this.leaves()) l.el.classList.toggle('focused', many && l === this.focused);
    this.hooks.resized();
  }

  private renderNode(n: Node): HTMLElement {
    if (n.kind === 'leaf') return n.el;
    const a = h('div', { class: 'split-child' }, this.renderNode(n.a));
    const b = h('div', { class: 'split-child' }, this.renderNode(n.b));
    const divider = h('div', {
      class: 'divider',
      role: 'separator',
      tabindex: 0,
      // The bar between side-by-side panes is itself vertical.
      'aria-orientation': n.dir === 'row' ? 'vertical' : 'horizontal',
      'aria-label': n.dir === 'row' ? 'Resize panes (Left/Right arrows)' : 'Resize panes (Up/Down arrows)',
      'aria-valuemin': MIN_RATIO * 100,
      'aria-valuemax': (1 - MIN_RATIO) * 100,
    });
    const box = h('div', { class: `split split-${n.dir}` }, a, divider, b);
    const apply = () => {
      a.style.flex = `${n.ratio} 1 0`;
      b.style.flex = `${1 - n.ratio} 1 0`;
      divider.setAttribute('aria-valuenow', String(Math.round(n.ratio * 100)));
    };
    apply();
    divider.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      divider.setPointerCapture(e.pointerId);
      box.classList.add('dragging');
      const move = (ev: PointerEvent) => {
        const r = box.getBoundingClientRect();
        n.ratio = clamp(n.dir === 'row' ? (ev.clientX - r.left) / r.width : (ev.clientY - r.top) / r.height);
        apply();
        this.hooks.resized();
      };
      const up = () => {
        box.classList.remove('dragging');
        divider.removeEventListener('pointermove', move);
        divider.removeEventListener('pointerup', up);
        divider.removeEventListener('pointercancel', up);
      };
      divider.addEventListener('pointermove', move);
      divider.addEventListener('pointerup', up);
      divider.addEventListener('pointercancel', up);
    });
    divider.addEventListener('keydown', (e) => {
      const back = n.dir === 'row' ? 'ArrowLeft' : 'ArrowUp';
      const fwd = n.dir === 'row' ? 'ArrowRight' : 'ArrowDown';
      if (e.key !== back && e.key !== fwd && e.key !== 'Home' && e.key !== 'End') return;
      e.preventDefault();
      if (e.key === 'Home') n.ratio = MIN_RATIO;
      else if (e.key === 'End') n.ratio = 1 - MIN_RATIO;
      else n.ratio = clamp(n.ratio + (e.key === fwd ? 0.05 : -0.05));
      apply();
      this.hooks.resized();
    });
    return box;
  }
}

function firstLeaf(n: Node): Leaf {
  return n.kind === 'leaf' ? n : firstLeaf(n.a);
}

function clamp(r: number): number {
  return Math.min(1 - MIN_RATIO, Math.max(MIN_RATIO, r));
}
