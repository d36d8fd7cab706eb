// A browser-like socket.io-client across an in-place upgrade, driven by
// TestUpgradeInPlace (cmd/server/upgrade_test.go). It prints one JSON line
// per step on stdout and reads the go-ahead for the next step on stdin:
//   -> {"step":"streaming",...}               numbered lines are flowing
//   <- any line                               (the test sent SIGHUP)
//   -> {"step":"done",...}                    every line arrived once
// Environment: CODETERM_URL, TOKEN, WORKSPACE.
import { io } from 'socket.io-client';
import { createInterface } from 'node:readline';

const URL = process.env.CODETERM_URL;
const TOKEN = process.env.TOKEN;
const WORKSPACE = process.env.WORKSPACE;
const LINES = Number(process.env.LINES || 3000);
const DEADLINE = 60000;

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (msg) => { say({ step: 'error', message: msg }); process.exit(1); };
const stdin = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => stdin.once('line', resolve));

const socket = io(URL, {
  auth: { token: TOKEN },
  transports: ['websocket'],
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  forceNew: true,
});
const chunks = [];
let waiters = [];
let sessionId = '';
let connects = 0;
let restartNotices = 0;
socket.on('terminal-output', (o) => {
  if (o.sessionId !== sessionId) return;
  chunks.push(o);
  for (const w of [...waiters]) w();
});
socket.on('server-restart', () => restartNotices++);
socket.on('connect', () => {
  connects++;
  // Every reconnection resumes from the last offset seen.
  if (connects > 1 && sessionId) {
    const last = chunks.length ? chunks[chunks.length - 1].seq : 0;
    socket.emit('attach-terminal', { sessionId, lastSeq: last });
  }
});
const text = () => chunks.filter((c) => !c.query).map((c) => c.output).join('');
const waitFor = (s) => new Promise((resolve) => {
  const timer = setTimeout(() => fail(`timed out waiting for ${JSON.stringify(s)}; got ...${JSON.stringify(text().slice(-300))}`), DEADLINE);
  const check = () => {
    if (!text().includes(s)) return false;
    clearTimeout(timer);
    waiters = waiters.filter((w) => w !== check);
    resolve();
    return true;
  };
  if (!check()) waiters.push(check);
});
const call = (event, payload) => socket.timeout(DEADLINE).emitWithAck(event, payload);

await new Promise((resolve) => socket.once('connect', resolve));
const created = await call('create-terminal', { workspaceId: WORKSPACE, shell: 'sh', cols: 80, rows: 24 });
if (!created.ok) fail(`create-terminal: ${JSON.stringify(created)}`);
sessionId = created.sessionId;
await call('terminal-input', { sessionId, data: 'WEBVAR=from-web; sleep 301 & echo RE""ADY\r' });
await waitFor('READY');
await call('terminal-input', {
  sessionId,
  data: `echo BE""GIN; i=1; while [ $i -le ${LINES} ]; do echo $i; i=$((i+1)); [ $((i % 100)) -eq 0 ] && sleep 0.02; done; echo DO""NE\r`,
});
await waitFor('\r\n200\r\n');
// list-terminals as "id pid", sorted: the test compares before and after.
const terminals = async () => {
  const r = await call('list-terminals', { workspaceId: WORKSPACE });
  if (!r.ok) fail(`list-terminals: ${JSON.stringify(r)}`);
  return r.terminals.map((t) => `${t.sessionId} ${t.pid}`).sort();
};
say({ step: 'streaming', sessionId, terminals: await terminals() });
await nextLine();
await waitFor('DONE');

// Every numbered line once, and every chunk where the previous one ended.
const all = text();
const start = all.indexOf('BEGIN\r\n');
const lines = all.slice(start + 7, all.indexOf('DONE', start)).split('\r\n').filter((l) => l !== '');
for (let i = 0; i < LINES; i++) {
  if (lines[i] !== String(i + 1)) fail(`line ${i}: ${JSON.stringify(lines[i])} (gap or duplicate); ${lines.length} lines`);
}
if (lines.length !== LINES) fail(`${lines.length} lines, want ${LINES}`);
let seq = chunks[0].seq - Buffer.byteLength(chunks[0].output);
let repaints = 0;
for (const c of chunks) {
  if (c.repaint) { repaints++; seq = c.seq; continue; }
  if (c.seq - Buffer.byteLength(c.output) !== seq) fail(`offset ${c.seq - Buffer.byteLength(c.output)} after ${seq}`);
  seq = c.seq;
}
await call('terminal-input', { sessionId, data: 'echo "WEBVAR=$WEBVAR"; kill -0 $! && echo JOB-AL""IVE\r' });
await waitFor('WEBVAR=from-web');
await waitFor('JOB-ALIVE');
say({ step: 'done', connects, restartNotices, repaints, terminals: await terminals() });
socket.close();
stdin.close();
