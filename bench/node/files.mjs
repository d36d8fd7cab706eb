// Moves one file over codeterm's Socket.IO file events with the real
// socket.io-client, as the web page does, for go run ./bench -files:
//
//   node files.mjs upload   URL TOKEN WORKSPACE_ID LOCAL_FILE REMOTE_PATH [nodeflate]
//   node files.mjs download URL TOKEN WORKSPACE_ID REMOTE_PATH LOCAL_FILE [nodeflate]
//
// By default the client offers permessage-deflate and deflates what it
// sends, as browsers do; "nodeflate" turns that off.
// It prints the seconds the transfer took (connection set-up excluded) and
// the sha256 the server reported.
import { io } from 'socket.io-client';
import { open, stat } from 'node:fs/promises';

const [mode, url, token, workspaceId, a, b, flag] = process.argv.slice(2);
const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, perMessageDeflate: flag !== 'nodeflate' });
await new Promise((res, rej) => {
  socket.once('connect', res);
  socket.once('connect_error', rej);
});
const call = (ev, p) => socket.timeout(60_000).emitWithAck(ev, p);

try {
  if (mode === 'upload') {
    const size = (await stat(a)).size;
    const fh = await open(a);
    const t0 = performance.now();
    const start = await call('upload-file', { workspaceId, path: b, size, overwrite: true });
    if (!start.ok) throw new Error(JSON.stringify(start));
    let next = 0;
    let inflight = 0;
    let result;
    await new Promise((resolve, reject) => {
      // One pump at a time: the file reads are asynchronous and chunks
      // must leave in order.
      let pumping = false;
      const pump = async () => {
        if (pumping) return;
        pumping = true;
        while (inflight < start.window && next < size) {
          const at = next;
          const n = Math.min(start.chunkSize, size - at);
          const buf = Buffer.allocUnsafe(n);
          await fh.read(buf, 0, n, at);
          next += n;
          inflight++;
          call('upload-chunk', { uploadId: start.uploadId, offset: at, data: buf }).then((ack) => {
            inflight--;
            if (!ack.ok) return reject(new Error(JSON.stringify(ack)));
            if (ack.done) {
              result = ack;
              resolve();
            } else void pump();
          }, reject);
        }
        pumping = false;
      };
      void pump();
    });
    const secs = (performance.now() - t0) / 1000;
    await fh.close();
    console.log(JSON.stringify({ seconds: secs, sha256: result.sha256 }));
  } else if (mode === 'download') {
    const fh = await open(b, 'w');
    const t0 = performance.now();
    let id = null;
    const early = [];
    let writes = Promise.resolve();
    let flush;
    const done = new Promise((resolve, reject) => {
      const onChunk = (c) => {
        if (id === null) return void early.push(c);
        if (c.downloadId !== id) return;
        if (c.error) return reject(new Error(JSON.stringify(c.error)));
        const data = Buffer.from(c.data);
        const at = c.offset;
        writes = writes.then(() => fh.write(data, 0, data.length, at));
        if (c.done) resolve(c);
      };
      socket.on('file-chunk', onChunk);
      flush = () => early.splice(0).forEach(onChunk);
    });
    const ack = await call('download-file', { workspaceId, path: a });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    id = ack.downloadId;
    flush();
    const last = await done;
    await writes;
    const secs = (performance.now() - t0) / 1000;
    await fh.close();
    console.log(JSON.stringify({ seconds: secs, sha256: last.sha256 }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  socket.close();
}
