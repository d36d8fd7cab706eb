// A soak for TestSoak (cmd/server/soak_test.go): CLIENTS socket.io-client
// connections, half websocket and half long-polling, each in a terminal of
// its own printing numbered lines in bursts while the client drops its
// connection at random and resumes with lastSeq. When the file STOP exists
// the loops end; every client then checks it saw every line once, in order,
// with no gap in the offsets, kills its terminal and prints one JSON line:
//   {"ok":true,"lines":N,"reconnects":R}   or   {"ok":false,"message":...}
// Environment: CODETERM_URL, TOKEN, WORKSPACE, STOP, CLIENTS.
import { io } from 'socket.io-client';
import { existsSync } from 'node:fs';

const URL = process.env.CODETERM_URL;
const TOKEN = process.env.TOKEN;
const WORKSPACE = process.env.WORKSPACE;
const STOP = process.env.STOP;
const CLIENTS = Number(process.env.CLIENTS || 10);
const DEADLINE = 120000;

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function client(n) {
  const socket = io(URL, {
    auth: { token: TOKEN },
    transports: n % 2 ? ['polling'] : ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const chunks = [];
  let waiters = [];
  let sessionId = '';
  let reconnects = 0;
  const last = () => (chunks.length ? chunks[chunks.length - 1].seq : 0);
  socket.on('terminal-output', (o) => {
    if (o.sessionId !== sessionId) return;
    chunks.push(o);
    for (const w of [...waiters]) w();
  });
  const connected = () => new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const call = async (event, payload) => {
    const r = await socket.timeout(DEADLINE).emitWithAck(event, payload);
    if (!r.ok) throw new Error(`${event}: ${JSON.stringify(r)}`);
    return r;
  };
  const text = () => chunks.filter((c) => !c.query).map((c) => c.output).join('');
  const waitFor = (re) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${n}: timed out waiting for ${re}; got ...${JSON.stringify(text().slice(-200))}`)), DEADLINE);
    const check = () => {
      const m = text().match(re);
      if (!m) return false;
      clearTimeout(timer);
      waiters = waiters.filter((w) => w !== check);
      resolve(m);
      return true;
    };
    if (!check()) waiters.push(check);
  });
  // Drop the connection and come back, resuming where the output stopped.
  const drop = async () => {
    socket.disconnect();
    const c = connected();
    socket.connect();
    await c;
    reconnects++;
    await call('attach-terminal', { sessionId, lastSeq: last() });
  };

  await connected();
  sessionId = (await call('create-terminal', { workspaceId: WORKSPACE, shell: 'sh', cols: 80, rows: 24 })).sessionId;
  await call('terminal-input', {
    sessionId,
    data: `echo BE""GIN; i=0; while [ ! -e '${STOP}' ]; do j=0; while [ $j -lt 200 ]; do i=$((i+1)); j=$((j+1)); echo L$i; done; sleep 0.05; done; echo "EN""D $i"\r`,
  });
  while (!existsSync(STOP)) {
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 600));
    if (!existsSync(STOP)) await drop();
  }
  const total = Number((await waitFor(/END (\d+)/))[1]);

  const all = text();
  const start = all.indexOf('BEGIN\r\n') + 7;
  const lines = all.slice(start, all.indexOf('END ', start)).split('\r\n').filter((l) => l !== '');
  for (let i = 0; i < total; i++) {
    if (lines[i] !== `L${i + 1}`) throw new Error(`client ${n}: line ${i + 1}: ${JSON.stringify(lines[i])} (gap or duplicate); ${lines.length} lines of ${total}`);
  }
  if (lines.length !== total) throw new Error(`client ${n}: ${lines.length} lines, want ${total}`);
  let seq = chunks[0].seq - Buffer.byteLength(chunks[0].output);
  for (const c of chunks) {
    if (c.repaint) throw new Error(`client ${n}: a repaint at ${c.seq}: output was lost`);
    const from = c.seq - Buffer.byteLength(c.output);
    if (from !== seq) throw new Error(`client ${n}: chunk from ${from} after ${seq}`);
    seq = c.seq;
  }
  await call('kill-terminal', { sessionId });
  socket.close();
  return { lines: total, reconnects };
}

try {
  const results = await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  say({
    ok: true,
    lines: results.reduce((a, r) => a + r.lines, 0),
    reconnects: results.reduce((a, r) => a + r.reconnects, 0),
  });
  process.exit(0);
} catch (err) {
  say({ ok: false, message: String(err && err.stack || err) });
  process.exit(1);
}
