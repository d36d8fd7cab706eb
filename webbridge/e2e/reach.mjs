// reach.mjs: one socket.io-client round trip against a running codeterm,
// for the deployment tests (TLS, reverse proxies) in cmd/server. Not part
// of the node --test suite: it takes its target from the environment.
//   CODETERM_URL  base URL (https:// needs NODE_EXTRA_CA_CERTS for a private CA)
//   TOKEN         a JWT (codeterm token USER)
//   WORKSPACE     a workspace id of that user
//   TRANSPORT     websocket or polling: the only transport allowed
import { io } from 'socket.io-client';

const { CODETERM_URL, TOKEN, WORKSPACE, TRANSPORT } = process.env;
const DEADLINE = 20000;
const fail = (msg) => { console.error(`reach: ${msg}`); process.exit(1); };
setTimeout(() => fail('timed out'), DEADLINE).unref();

const socket = io(CODETERM_URL, { auth: { token: TOKEN }, transports: [TRANSPORT], reconnection: false, forceNew: true });
socket.on('connect_error', (err) => fail(`connect_error: ${err.message} ${err.description?.message ?? ''}`));
await new Promise((resolve) => socket.once('connect', resolve));

let text = '';
let sessionId;
const seen = new Promise((resolve) => {
  socket.on('terminal-output', (o) => {
    if (o.sessionId !== sessionId) return;
    text += o.output;
    if (text.includes('re42ach')) resolve();
  });
});
const ack = await socket.timeout(DEADLINE).emitWithAck('create-terminal', { workspaceId: WORKSPACE, shell: 'sh', cols: 80, rows: 24 });
if (!ack.ok) fail(`create-terminal: ${JSON.stringify(ack)}`);
sessionId = ack.sessionId;
await socket.timeout(DEADLINE).emitWithAck('terminal-input', { sessionId, data: 'echo re$((6*7))ach\r' });
await seen;
const transport = socket.io.engine.transport.name;
if (transport !== TRANSPORT) fail(`transport ${transport}, want ${TRANSPORT}`);
await socket.timeout(DEADLINE).emitWithAck('kill-terminal', { sessionId }).catch(() => {});
socket.close();
console.log(`reach: ok over ${transport} at ${CODETERM_URL}`);
process.exit(0);
