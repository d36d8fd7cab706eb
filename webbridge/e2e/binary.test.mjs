import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, createTerminal, DEADLINE, ALICE } from './helpers.mjs';

// Stream is one socket's terminal-output of one session, in either form:
// chunk outputs are strings (the default) or bytes (auth.binary).
class Stream {
  constructor(socket, sessionId) {
    this.sessionId = sessionId;
    this.chunks = [];
    this.waiters = new Set();
    socket.on('terminal-output', (o) => {
      if (o.sessionId !== this.sessionId || o.query) return;
      this.chunks.push(o);
      for (const w of [...this.waiters]) w();
    });
  }

  // text is the stream so far: a string, or latin1 for bytes so that
  // indexes are byte offsets.
  get text() {
    return this.chunks.map((c) => (typeof c.output === 'string' ? c.output : Buffer.from(c.output).toString('latin1'))).join('');
  }

  // bytes is the binary stream so far.
  get bytes() {
    return Buffer.concat(this.chunks.map((c) => Buffer.from(c.output)));
  }

  // offsetAfter waits for marker (ASCII) and resolves with the session
  // offset just after it, from the seq of the chunk that completed it: the
  // rest of that chunk is ASCII, so its length in characters is in bytes.
  offsetAfter(marker) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let acc = '';
        for (const c of this.chunks) {
          acc += typeof c.output === 'string' ? c.output : Buffer.from(c.output).toString('latin1');
          const at = acc.indexOf(marker);
          if (at >= 0) {
            this.waiters.delete(check);
            clearTimeout(timer);
            resolve(c.seq - (acc.length - at - marker.length));
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${marker}; got ...${JSON.stringify(this.text.slice(-200))}`));
      }, DEADLINE);
      this.waiters.add(check);
      check();
    });
  }
}

test('binary output: every byte value round-trips; offsets agree with the string form', async (t) => {
  const bin = await connect(ALICE, { auth: { token: ALICE, binary: true } });
  const txt = await connect(ALICE);
  t.after(() => { bin.close(); txt.close(); });

  const { sessionId } = await createTerminal(bin);
  const b = new Stream(bin, sessionId);
  const s = new Stream(txt, sessionId);
  // Both from offset 0, so both streams are the whole output.
  assert.equal((await call(txt, 'attach-terminal', { sessionId, lastSeq: 0 })).ok, true);

  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  // The file is written without the terminal in the way, then cat with
  // output processing off, so the PTY passes every byte as it is. The
  // markers are split in the command line so its echo does not match.
  await call(bin, 'terminal-input', {
    sessionId,
    data: `echo ${all.toString('base64')} | base64 -d > bytes.bin; stty -opost; printf '%s' '<<BE''GIN>>'; cat bytes.bin; printf '%s' '<<E''ND>>'; stty opost; echo '<<DO''NE>>'\r`,
  });
  const [bBegin, bEnd] = [await b.offsetAfter('<<BEGIN>>'), await b.offsetAfter('<<END>>')];
  await b.offsetAfter('<<DONE>>');
  await s.offsetAfter('<<DONE>>');

  assert.ok(b.chunks.every((c) => typeof c.output !== 'string'), 'the binary socket gets bytes');
  assert.ok(s.chunks.every((c) => typeof c.output === 'string'), 'the default stays a JSON string');

  // The exact bytes, in the binary form.
  const got = b.bytes;
  const at = got.indexOf('<<BEGIN>>') + '<<BEGIN>>'.length;
  assert.deepEqual(got.subarray(at, at + 256 + '<<END>>'.length), Buffer.concat([all, Buffer.from('<<END>>')]));

  // seq is the exact offset after each chunk in the binary form...
  let prev = b.chunks[0].seq - Buffer.from(b.chunks[0].output).length;
  for (const c of b.chunks) {
    if (c.repaint) { prev = c.seq; continue; }
    assert.equal(c.seq, prev + Buffer.from(c.output).length, 'seq advances by the chunk length');
    prev = c.seq;
  }
  assert.equal(bEnd - bBegin, 256 + '<<END>>'.length);
  // ...and both forms agree on the offsets of the same output.
  assert.equal(await s.offsetAfter('<<BEGIN>>'), bBegin);
  assert.equal(await s.offsetAfter('<<END>>'), bEnd);
  assert.equal(await s.offsetAfter('<<DONE>>'), await b.offsetAfter('<<DONE>>'));

  // The string form: ASCII as it is, each byte that is not UTF-8 one U+FFFD.
  const text = s.text;
  const from = text.indexOf('<<BEGIN>>') + '<<BEGIN>>'.length;
  const shown = text.slice(from, text.indexOf('<<END>>', from));
  assert.equal(shown, all.subarray(0, 128).toString('latin1') + '\ufffd'.repeat(128));

  // A binary client that resumes gets the replay as bytes too.
  const again = await connect(ALICE, { auth: { token: ALICE, binary: true } });
  t.after(() => again.close());
  const r = new Stream(again, sessionId);
  assert.equal((await call(again, 'attach-terminal', { sessionId, lastSeq: bBegin })).ok, true);
  await r.offsetAfter('<<END>>');
  assert.deepEqual(r.bytes.subarray(0, 256), all);
  assert.equal(r.chunks[0].seq - Buffer.from(r.chunks[0].output).length, bBegin);
});

test('binary output: only auth.binary === true selects it', async (t) => {
  const odd = await connect(ALICE, { auth: { token: ALICE, binary: 'yes' } });
  t.after(() => odd.close());
  const { sessionId } = await createTerminal(odd);
  const s = new Stream(odd, sessionId);
  await call(odd, 'terminal-input', { sessionId, data: `echo '<<O''K>>'\r` });
  await s.offsetAfter('<<OK>>');
  assert.ok(s.chunks.every((c) => typeof c.output === 'string'));
});
