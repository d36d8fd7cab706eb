// Terminal output arrives as the exact bytes the program wrote. xterm.js's
// own UTF-8 decoder silently drops bytes that are not UTF-8, where the
// session's screen on the server (and a terminal over SSH) shows U+FFFD:
// a Latin-1 file would read differently live and after a repaint. So the
// page decodes with the server's rules (Go's utf8.DecodeRune: each byte
// that does not start a valid sequence is one U+FFFD) and hands xterm.js
// the text.

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The second byte's accepted range after a lead byte, as in Go's utf8. */
function secondRange(lead: number): [number, number] {
  switch (lead) {
    case 0xe0: return [0xa0, 0xbf];
    case 0xed: return [0x80, 0x9f];
    case 0xf0: return [0x90, 0xbf];
    case 0xf4: return [0x80, 0x8f];
    default: return [0x80, 0xbf];
  }
}

/** The length of the sequence a lead byte announces; 0 if it cannot lead. */
function seqLen(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0;
}

/** How the bytes from i on begin: [size of a valid sequence, or 0 if the
 * byte at i is invalid, or -1 if the bytes end inside a sequence that may
 * still be valid]. */
function runeAt(b: Uint8Array, i: number): number {
  const n = seqLen(b[i]);
  if (n <= 1) return n;
  const [lo, hi] = secondRange(b[i]);
  for (let k = 1; k < n; k++) {
    if (i + k >= b.length) return -1;
    const c = b[i + k];
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}

/** Utf8Stream decodes one session's output stream chunk by chunk; a
 * character split between chunks is completed by the next one. */
export class Utf8Stream {
  private held: Uint8Array = new Uint8Array(0);

  decode(chunk: Uint8Array): string {
    let b = chunk;
    if (this.held.length) {
      b = new Uint8Array(this.held.length + chunk.length);
      b.set(this.held);
      b.set(chunk, this.held.length);
    }
    // Hold back a sequence the next chunk may complete.
    let end = b.length;
    for (let i = b.length - 1; i >= 0 && i >= b.length - 3; i--) {
      if ((b[i] & 0xc0) !== 0x80) {
        if (runeAt(b, i) < 0) end = i;
        break;
      }
    }
    this.held = b.slice(end);
    b = b.subarray(0, end);
    try {
      return strict.decode(b); // the common case: all valid
    } catch {
      return decodeLenient(b);
    }
  }

  /** Drops held bytes: a repaint starts the stream afresh. */
  reset(): void {
    this.held = new Uint8Array(0);
  }

  /** What the held bytes show as once the stream has ended. */
  flush(): string {
    const s = '\ufffd'.repeat(this.held.length);
    this.held = new Uint8Array(0);
    return s;
  }
}

/** Decodes bytes holding invalid UTF-8 into UTF-16 code units in one
 * pass: a byte program (a binary file cat by mistake) is half invalid, and
 * a TextDecoder call per valid run cost more than the rest of the page's
 * work on it (BenchmarkPageOutputForms). Never more units than bytes. */
function decodeLenient(b: Uint8Array): string {
  const u = new Uint16Array(b.length);
  let j = 0;
  for (let i = 0; i < b.length;) {
    const c = b[i];
    if (c < 0x80) {
      u[j++] = c;
      i++;
      continue;
    }
    const n = runeAt(b, i);
    if (n <= 0) {
      u[j++] = 0xfffd;
      i++;
      continue;
    }
    if (n === 2) {
      u[j++] = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
    } else if (n === 3) {
      u[j++] = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
    } else {
      const cp = (((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f)) - 0x10000;
      u[j++] = 0xd800 + (cp >> 10);
      u[j++] = 0xdc00 + (cp & 0x3ff);
    }
    i += n;
  }
  let out = '';
  // In slices: fromCharCode takes its units as arguments.
  for (let k = 0; k < j; k += 8192) out += String.fromCharCode.apply(null, u.subarray(k, Math.min(j, k + 8192)) as unknown as number[]);
  return out;
}
