// The client side of BenchmarkUpgrade (cmd/server/upgrade_bench_test.go):
// a socket.io-client with IDLE idle sessions and, if STREAM=1, one session
// printing numbered lines. Commands on stdin, one JSON answer each on stdout:
//   drop  the client drops its own transport (the baseline: a reconnect)
//   go    the test sends SIGHUP right after writing this line
//   end   stop streaming and count the bytes lost or repeated
// Each drop/go answer is {ms}: from the command to the first byte of the
// probe session served after the reconnect (its replay when streaming, else
// a repaint asked for with lastSeq -1).
// Environment: CODETERM_URL, TOKEN, WORKSPACE, IDLE, STREAM.
import { io } from 'socket.io-client';
import { createInterface } from 'node:readline';

const IDLE = Number(process.env.IDLE || 0);
const STREAM = process.env.STREAM === '1';
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (msg) => { say({ error: msg }); process.exit(1); };

const socket = io(process.env.CODETERM_URL, {
  auth: { token: process.env.TOKEN },
  transports: ['websocket'],
  reconnectionDelay: 1,
  reconnectionDelayMax: 50,
  randomizationFactor: 0,
  forceNew: true,
});
const call = (event, payload) => socket.timeout(60000).emitWithAck(event, payload);
const sessions = new Map(); // id -> last seq seen
let probe = '';
let waiting = null; // resolves with the first probe output after a reconnect
let stream = { id: '', text: '', seq: -1, gaps: 0, lastLine: 0, lost: 0, dup: 0, partial: '' };

socket.on('terminal-output', (o) => {
  if (sessions.has(o.sessionId)) sessions.set(o.sessionId, o.seq);
  if (o.sessionId === stream.id && !o.repaint) {
    const len = Buffer.byteLength(o.output);
    if (stream.seq >= 0 && o.seq - len !== stream.seq) stream.gaps += Math.abs(o.seq - len - stream.seq);
    stream.seq = o.seq;
    countLines(o.output);
  }
  if (o.sessionId === probe && waiting) {
    const w = waiting;
    waiting = null;
    w();
  }
});
socket.on('connect', () => {
  for (const [id, seq] of sessions) {
    socket.emit('attach-terminal', { sessionId: id, lastSeq: id === probe && !STREAM ? -1 : seq });
  }
});

// countLines follows the numbers the stream prints: one missing or repeated
// is a lost or duplicated line.
function countLines(text) {
  const parts = (stream.partial + text).split('\r\n');
  stream.partial = parts.pop();
  for (const l of parts) {
    if (!/^\d+$/.test(l)) continue;
    const n = Number(l);
    if (stream.lastLine && n !== stream.lastLine + 1) {
      if (n > stream.lastLine) stream.lost += n - stream.lastLine - 1;
      else stream.dup++;
    }
    stream.lastLine = n;
  }
}

await new Promise((resolve) => socket.once('connect', resolve));
for (let i = 0; i < IDLE; i++) {
  const r = await call('create-terminal', { workspaceId: process.env.WORKSPACE, shell: 'sh', cols: 80, rows: 24 });
  if (!r.ok) fail(`create-terminal ${i}: ${JSON.stringify(r)}`);
  sessions.set(r.sessionId, 0);
  if (!probe) probe = r.sessionId;
}
if (STREAM) {
  const r = await call('create-terminal', { workspaceId: process.env.WORKSPACE, shell: 'sh', cols: 80, rows: 24 });
  if (!r.ok) fail(`create-terminal: ${JSON.stringify(r)}`);
  stream.id = probe = r.sessionId;
  sessions.set(r.sessionId, 0);
  await call('terminal-input', {
    sessionId: stream.id,
    data: 'i=0; while :; do i=$((i+1)); echo $i; [ $((i % 50)) -eq 0 ] && sleep 0.01; done\r',
  });
  await new Promise((resolve) => { const t = setInterval(() => { if (stream.lastLine > 100) { clearInterval(t); resolve(); } }, 10); });
}
say({ ready: true, sessions: sessions.size });

// The probe's first output once the connection has dropped and come back.
const firstByte = () => new Promise((resolve) => socket.once('disconnect', () => { waiting = resolve; }));
for await (const line of createInterface({ input: process.stdin })) {
  const start = performance.now();
  if (line === 'drop') {
    const got = firstByte();
    socket.io.engine.close();
    await got;
    say({ ms: performance.now() - start });
  } else if (line === 'go') {
    await firstByte();
    say({ ms: performance.now() - start });
  } else if (line === 'end') {
    if (STREAM) {
      const last = stream.lastLine;
      await new Promise((resolve) => { const t = setInterval(() => { if (stream.lastLine > last + 200) { clearInterval(t); resolve(); } }, 10); });
      await call('terminal-input', { sessionId: stream.id, data: '\x03' });
    }
    say({ lostLines: stream.lost, dupLines: stream.dup, gapBytes: stream.gaps, lines: stream.lastLine });
    break;
  }
}
socket.close();
process.exit(0);
