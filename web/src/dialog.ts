// Modal dialogs on <dialog>: the browser traps focus, Esc closes, and
// focus returns to where it was.
import { h } from './dom';

export function openDialog(title: string, body: Node[], opts: { wide?: boolean; onClose?: () => void } = {}): HTMLDialogElement {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const prev = document.activeElement as HTMLElement | null;
  const dlg = h('dialog', { class: opts.wide ? 'dialog wide' : 'dialog', 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...body);
  dlg.addEventListener('close', () => {
    dlg.remove();
    opts.onClose?.();
    prev?.focus?.();
  });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

/** Asks a yes/no question; resolves true on the confirming button. */
export function confirmDialog(title: string, message: string, confirmLabel: string, danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h('button', { type: 'button', class: danger ? 'btn danger' : 'btn primary' }, confirmLabel);
    const no = h('button', { type: 'button', class: 'btn', autofocus: true }, 'Cancel');
    const dlg = openDialog(title, [h('p', {}, message), h('div', { class: 'dialog-actions' }, no, yes)], { onClose: () => resolve(answer) });
    yes.addEventListener('click', () => {
      answer = true;
      dlg.close();
    });
    no.addEventListener('click', () => dlg.close());
    no.focus();
  });
}

/** Asks for one line of text. Resolves null when cancelled. */
export function promptDialog(title: string, label: string, value: string, okLabel = 'Save'): Promise<string | null> {
  return new Promise((resolve) => {
    let answer: string | null = null;
    const input = h('input', { type: 'text', value, 'aria-label': label, maxlength: 64, spellcheck: 'false' });
    const form = h(
      'form',
      { method: 'dialog' },
      h('label', { class: 'field' }, h('span', {}, label), input),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn', value: 'cancel', onclick: () => dlg.close() }, 'Cancel'), h('button', { type: 'submit', class: 'btn primary' }, okLabel)),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      answer = input.value.trim();
      dlg.close();
    });
    const dlg = openDialog(title, [form], { onClose: () => resolve(answer) });
    input.select();
  });
}
