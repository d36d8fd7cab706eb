import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, call, waitEvent, Output, createTerminal, ALICE, BOB, ALICE_WS, BOB_WS, URL, DEADLINE } from './helpers.mjs';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// sendChunks uploads data[from:stopAt] keeping `window` chunks in flight and
// resolves with the last ack once every chunk sent is acknowledged.
function sendChunks(socket, uploadId, data, from, { chunkSize, window }, stopAt = data.length) {
  return new Promise((resolve, reject) => {
    let next = from;
    let inflight = 0;
    let last = null;
    const pump = () => {
      while (inflight < window && next < stopAt) {
        const offset = next;
        const end = Math.min(offset + chunkSize, stopAt);
        next = end;
        inflight++;
        socket.timeout(DEADLINE).emitWithAck('upload-chunk', { uploadId, offset, data: data.subarray(offset, end) })
          .then((ack) => {
            inflight--;
            if (!ack.ok) return reject(new Error(`upload-chunk at ${offset}: ${JSON.stringify(ack)}`));
            if (!last || ack.offset > last.offset) last = ack;
            if (inflight === 0 && next >= stopAt) resolve(last);
            else pump();
          }, reject);
      }
    };
    pump();
  });
}

// download fetches a file over the socket: file-chunk events after the ack.
async function download(socket, workspaceId, path) {
  const parts = [];
  let expected = 0;
  let resolveDone, rejectDone;
  const done = new Promise((res, rej) => { resolveDone = res; rejectDone = rej; });
  let id = null;
  const early = [];
  const onChunk = (c) => {
    if (id === null) { early.push(c); return; }
    if (c.downloadId !== id) return;
    if (c.offset !== expected) rejectDone(new Error(`chunk at ${c.offset}, expected ${expected}`));
    if (c.error) rejectDone(new Error(JSON.stringify(c.error)));
    const b = Buffer.from(c.data);
    parts.push(b);
    expected += b.length;
    if (c.done) resolveDone(c);
  };
  socket.on('file-chunk', onChunk);
  try {
    const ack = await call(socket, 'download-file', { workspaceId, path });
    if (!ack.ok) return { ack };
    id = ack.downloadId;
    early.forEach(onChunk);
    const last = await done;
    return { ack, data: Buffer.concat(parts), sha256: last.sha256 };
  } finally {
    socket.off('file-chunk', onChunk);
  }
}

test('files: 50 MiB upload interrupted and resumed, downloaded over the socket and HTTP with Range', async (t) => {
  const data = randomBytes(50 << 20);
  const digest = sha256(data);
  const a = await connect(ALICE);
  t.after(() => a.close());
  const path = `uploads-${process.pid}/big.bin`;
  assert.equal((await call(a, 'create-directory', { workspaceId: ALICE_WS, path: path.split('/')[0] })).ok, true);

  const start = await call(a, 'upload-file', { workspaceId: ALICE_WS, path, size: data.length, sha256: digest });
  assert.equal(start.ok, true, JSON.stringify(start));
  assert.equal(start.offset, 0);
  assert.ok(start.chunkSize >= 64 << 10 && start.chunkSize <= 1_000_000, `chunkSize ${start.chunkSize}`);
  const progress = [];
  a.on('upload-progress', (p) => progress.push(p));

  // Half, then the connection drops.
  const half = Math.floor(data.length / 2 / start.chunkSize) * start.chunkSize;
  const mid = await sendChunks(a, start.uploadId, data, 0, start, half);
  assert.equal(mid.offset, half);
  assert.ok(progress.length > 0 && progress.every((p) => p.uploadId === start.uploadId && p.size === data.length));
  a.close();

  // Nothing is visible yet.
  const b = await connect(ALICE);
  t.after(() => b.close());
  const listed = await call(b, 'list-files', { workspaceId: ALICE_WS, path: path.split('/')[0] });
  assert.equal(listed.ok, true);
  assert.deepEqual(listed.entries.filter((e) => e.name === 'big.bin'), []);

  // Bob cannot resume it; Alice resumes from the last acked offset.
  const bob = await connect(BOB);
  t.after(() => bob.close());
  assert.equal((await call(bob, 'upload-file', { uploadId: start.uploadId })).error?.code, 'UPLOAD_NOT_FOUND');
  const resumed = await call(b, 'upload-file', { uploadId: start.uploadId });
  assert.equal(resumed.ok, true, JSON.stringify(resumed));
  assert.equal(resumed.offset, half);
  // Joined to the workspace, b sees the finished file appear, not the
  // partial one growing.
  assert.equal((await call(b, 'join-workspace', { workspaceId: ALICE_WS })).ok, true);
  const changes = [];
  b.on('file-changed', (f) => changes.push(f.path));
  const appeared = waitEvent(b, 'file-changed', (f) => f.path === path);
  // A chunk from the wrong offset is refused without harm.
  const wrong = await call(b, 'upload-chunk', { uploadId: start.uploadId, offset: 0, data: data.subarray(0, 10) });
  assert.equal(wrong.error?.code, 'UPLOAD_OFFSET');
  const last = await sendChunks(b, start.uploadId, data, half, resumed);
  assert.equal(last.done, true);
  assert.equal(last.sha256, digest);
  await appeared;
  assert.deepEqual(changes.filter((p) => p.includes('codeterm-')), []);

  // Listed now, with its size.
  const after = await call(b, 'list-files', { workspaceId: ALICE_WS, path: path.split('/')[0] });
  const entry = after.entries.find((e) => e.name === 'big.bin');
  assert.equal(entry.size, data.length);
  assert.equal(entry.type, 'file');
  assert.equal(entry.path, path);
  assert.deepEqual(after.entries.map((e) => e.name), ['big.bin'], 'no partial file left');

  // Back over the socket.
  const dl = await download(b, ALICE_WS, path);
  assert.equal(dl.ack.size, data.length);
  assert.equal(dl.sha256, digest);
  assert.equal(sha256(dl.data), digest);

  // Back over HTTP, whole and in two ranges.
  const url = `${URL}/api/workspaces/${ALICE_WS}/files/${path}`;
  const headers = { Authorization: `Bearer ${ALICE}` };
  const whole = await fetch(url, { headers });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'application/octet-stream');
  assert.match(whole.headers.get('content-disposition'), /^attachment/);
  assert.equal(sha256(Buffer.from(await whole.arrayBuffer())), digest);
  const cut = 12345679;
  const r1 = await fetch(url, { headers: { ...headers, Range: `bytes=0-${cut - 1}` } });
  const r2 = await fetch(url, { headers: { ...headers, Range: `bytes=${cut}-` } });
  assert.equal(r1.status, 206);
  assert.equal(r2.status, 206);
  assert.equal(r2.headers.get('content-range'), `bytes ${cut}-${data.length - 1}/${data.length}`);
  const joined = Buffer.concat([Buffer.from(await r1.arrayBuffer()), Buffer.from(await r2.arrayBuffer())]);
  assert.equal(sha256(joined), digest);

  // Without a token, with Bob's, or for Bob's workspace: refused.
  assert.equal((await fetch(url)).status, 401);
  const asBob = await fetch(url, { headers: { Authorization: `Bearer ${BOB}` } });
  const missing = await fetch(`${URL}/api/workspaces/no-such-workspace/files/${path}`, { headers });
  assert.equal(asBob.status, 404);
  assert.equal(missing.status, 404);
  assert.deepEqual(await asBob.json(), { error: { code: 'WORKSPACE_NOT_FOUND', message: 'Workspace not found' } });
});

test('files: HTTP PUT, read-file, write-file conflict while the shell appends', async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const name = `edit-${process.pid}.txt`;
  const url = `${URL}/api/workspaces/${ALICE_WS}/files/${name}`;
  const headers = { Authorization: `Bearer ${ALICE}` };
  const put = await fetch(url, { method: 'PUT', headers, body: 'line 1\n' });
  assert.equal(put.status, 200);
  assert.equal((await put.json()).sha256, sha256('line 1\n'));

  const read = await call(a, 'read-file', { workspaceId: ALICE_WS, path: name });
  assert.equal(read.ok, true, JSON.stringify(read));
  assert.equal(read.content, 'line 1\n');
  assert.equal(read.encoding, 'utf8');
  assert.equal(read.sha256, sha256('line 1\n'));

  // The shell appends while the file is open in the "editor".
  const { sessionId } = await createTerminal(a);
  const out = new Output(a, sessionId);
  await call(a, 'terminal-input', { sessionId, data: `echo appended >> ${name}; echo DONE-$((40+2))\r` });
  await out.waitFor('DONE-42');
  const conflict = await call(a, 'write-file', { workspaceId: ALICE_WS, path: name, content: 'mine\n', baseSha256: read.sha256 });
  assert.equal(conflict.ok, false);
  assert.equal(conflict.error.code, 'FILE_CONFLICT');
  const now = await call(a, 'read-file', { workspaceId: ALICE_WS, path: name });
  assert.equal(now.content, 'line 1\nappended\n');
  const saved = await call(a, 'write-file', { workspaceId: ALICE_WS, path: name, content: 'mine\n', baseSha256: now.sha256 });
  assert.equal(saved.ok, true, JSON.stringify(saved));
  assert.equal(saved.sha256, sha256('mine\n'));
  await call(a, 'terminal-input', { sessionId, data: `cat ${name}; echo END-$((1+1))\r` });
  await out.waitFor('END-2');
  assert.match(out.text, /mine\r\n/);

  // HTTP PUT with a stale base is a 409 too.
  const stale = await fetch(url, { method: 'PUT', headers: { ...headers, 'X-Base-Sha256': read.sha256 }, body: 'x' });
  assert.equal(stale.status, 409);
  assert.equal((await stale.json()).error.code, 'FILE_CONFLICT');

  // Binary content comes back as a Buffer.
  const bin = Buffer.from([0, 1, 2, 255]);
  assert.equal((await call(a, 'write-file', { workspaceId: ALICE_WS, path: 'bin.dat', content: bin, create: true })).ok, true);
  const rb = await call(a, 'read-file', { workspaceId: ALICE_WS, path: 'bin.dat' });
  assert.equal(rb.encoding, 'binary');
  assert.deepEqual(Buffer.from(rb.content), bin);

  // Rename and delete.
  assert.equal((await call(a, 'rename-file', { workspaceId: ALICE_WS, from: 'bin.dat', to: 'bin2.dat' })).ok, true);
  assert.equal((await call(a, 'delete-file', { workspaceId: ALICE_WS, path: 'bin2.dat' })).ok, true);
  assert.equal((await call(a, 'read-file', { workspaceId: ALICE_WS, path: 'bin2.dat' })).error.code, 'FILE_NOT_FOUND');
  await call(a, 'kill-terminal', { sessionId });
});

test("files: another user's workspace is refused exactly like a missing one; escapes refused", async (t) => {
  const a = await connect(ALICE);
  t.after(() => a.close());
  const events = [
    ['list-files', { path: '' }],
    ['read-file', { path: 'x' }],
    ['write-file', { path: 'x', content: 'y', create: true }],
    ['create-directory', { path: 'x' }],
    ['rename-file', { from: 'x', to: 'y' }],
    ['delete-file', { path: 'x' }],
    ['upload-file', { path: 'x', size: 1 }],
    ['download-file', { path: 'x' }],
  ];
  for (const [event, payload] of events) {
    const other = await call(a, event, { workspaceId: BOB_WS, ...payload });
    const missing = await call(a, event, { workspaceId: BOB_WS.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')), ...payload });
    assert.equal(other.ok, false, event);
    assert.equal(other.error.code, 'WORKSPACE_NOT_FOUND', event);
    // The same words but for the id itself.
    assert.equal(other.error.message, missing.error.message, event);
    assert.equal(other.error.details.replace(BOB_WS, 'ID'), missing.error.details.replace(/workspace \S+ does/, 'workspace ID does'), event);
  }
  for (const path of ['../x', '/etc/passwd', '.git/config', 'a/../../b']) {
    const r = await call(a, 'read-file', { workspaceId: ALICE_WS, path });
    assert.equal(r.error?.code, 'INVALID_PATH', path);
  }
  const big = await call(a, 'upload-file', { workspaceId: ALICE_WS, path: 'huge', size: 1e15 });
  assert.equal(big.error?.code, 'FILE_TOO_LARGE');
});
