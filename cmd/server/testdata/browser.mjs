// Drives codeterm as the web page does, with the real socket.io-client.
// Run by TestIsolationAccounts, which checks who owns the files:
//   MODE=clone  alice clones REPO_URL into workspace "browser" and types in
//               a terminal of it; prints {"uid", "workspaceId"}
//   MODE=pull   alice pulls workspace WS_ID; prints the ack or error
import { createRequire } from 'node:module';

const require = createRequire(process.env.SIO_DIR + '/package.json');
const { io } = require('socket.io-client');

const timer = setTimeout(() => fail('timed out'), 60000);
function fail(msg) {
  console.error(msg);
  process.exit(1);
}

const socket = io(process.env.CODETERM_URL, {
  auth: { token: process.env.TOKEN },
  transports: ['websocket'],
  reconnection: false,
});
const next = (event) => new Promise((resolve) => socket.once(event, resolve));
socket.on('connect_error', (e) => fail('connect_error ' + e.message));
socket.on('terminal-error', (e) => fail('terminal-error ' + JSON.stringify(e)));
await next('connect');

if (process.env.MODE === 'pull') {
  const result = await Promise.race([
    next('workspace-synced').then((d) => ({ synced: d })),
    next('workspace-error').then((d) => ({ error: d })),
    new Promise((resolve) => socket.emit('sync-workspace', { workspaceId: process.env.WS_ID, operation: 'pull' }, () => {})),
  ]);
  console.log(JSON.stringify(result));
} else {
  socket.on('workspace-error', (e) => fail('workspace-error ' + JSON.stringify(e)));
  socket.emit('create-workspace', { name: 'browser', repoUrl: process.env.REPO_URL });
  const created = await next('workspace-created');
  socket.emit('create-terminal', { workspaceId: created.workspace.id, cols: 80, rows: 24 });
  const term = await next('terminal-created');
  let out = '';
  const uid = await new Promise((resolve) => {
    socket.on('terminal-output', (d) => {
      if (d.sessionId !== term.sessionId) return;
      out += d.output;
      const m = out.match(/UID=(\d+)END/);
      if (m) resolve(m[1]);
    });
    socket.emit('terminal-input', { sessionId: term.sessionId, data: 'touch from-terminal; echo UID=$(id -u)END\r' });
  });
  console.log(JSON.stringify({ uid: Number(uid), workspaceId: created.workspace.id }));
}
clearTimeout(timer);
socket.close();
