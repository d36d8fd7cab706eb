// Output throughput of one socket.io-client in either terminal-output form,
// driven by BenchmarkOutputForms (webbridge/bench_e2e_test.go): ROUNDS times,
// cat FILE in a fresh session and wait for the end marker. Prints one JSON
// line: bytes received (by seq), milliseconds, and this client's CPU time.
import { io } from 'socket.io-client';

const URL = process.env.CODETERM_URL;
const TOKEN = process.env.ALICE_TOKEN;
const WS = process.env.ALICE_WS;
const BINARY = process.env.FORM === 'binary';
const FILE = process.env.FILE;
const ROUNDS = Number(process.env.ROUNDS || 1);
const MARKER = 'END-33';

const socket = io(URL, { auth: { token: TOKEN, binary: BINARY }, transports: ['websocket'], reconnection: false, forceNew: true });
await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
const ack = await socket.timeout(30000).emitWithAck('create-terminal', { workspaceId: WS, shell: 'sh', cols: 120, rows: 40 });
if (!ack.ok) throw new Error(JSON.stringify(ack));
const sessionId = ack.sessionId;

let seq = 0;
let tail = '';
let waiter = null;
socket.on('terminal-output', (o) => {
  if (o.sessionId !== sessionId || o.query) return;
  seq = o.seq;
  const s = typeof o.output === 'string' ? o.output : Buffer.from(o.output).toString('latin1');
  tail = (tail + s.slice(-32)).slice(-64);
  if (waiter && tail.includes(MARKER)) { const w = waiter; waiter = null; tail = ''; w(); }
});
const run = (cmd) => new Promise((resolve) => { waiter = resolve; socket.emit('terminal-input', { sessionId, data: cmd }); });

await run(`stty -echo; echo E''ND-$((30+3))\r`);
let bytes = 0;
let ms = 0;
const cpu0 = process.cpuUsage();
for (let i = 0; i < ROUNDS; i++) {
  const from = seq;
  const t0 = performance.now();
  await run(`cat ${FILE}; echo E''ND-$((30+3))\r`);
  ms += performance.now() - t0;
  bytes += seq - from;
}
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ bytes, ms, clientCpuMs: (cpu.user + cpu.system) / 1000 }));
socket.close();
