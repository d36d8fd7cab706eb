// The stack codeterm replaces, reduced to its terminal path: node-pty behind
// socket.io 4.8, speaking the seed's events (create-terminal,
// terminal-created, terminal-input, terminal-output, terminal-resize,
// kill-terminal, terminal-killed, process-exit). Every output chunk node-pty
// reads is emitted as it comes, as the original server did. The handshake
// token is accepted as given: the benchmark measures the terminal path.
//
//	node server.mjs            listens on 127.0.0.1, a free port; prints "listening PORT"
//
// HOME, SHELL and PATH come from the environment (the benchmark sets them).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Server } from 'socket.io';
import pty from 'node-pty';

const shell = process.env.BENCH_SHELL || '/bin/bash';
// BENCH_LOGIN=1: a login shell (/etc/profile and the home's files), as
// codeterm and OpenSSH start.
const shellArgs = process.env.BENCH_LOGIN ? ['-l'] : ['--noprofile', '--norc'];
const env = { ...process.env, TERM: 'xterm-256color', PS1: '$ ' };
delete env.BENCH_SHELL;
delete env.BENCH_LOGIN;

const httpServer = http.createServer();
const io = new Server(httpServer, { maxHttpBufferSize: 1e6 });
const terminals = new Map(); // sessionId -> term

// end hangs up on a shell, and kills it if it lingers (a shell that has not
// set up its signal handlers yet may miss the SIGHUP).
function end(term) {
  term.kill();
  setTimeout(() => { try { term.kill('SIGKILL'); } catch {} }, 2000).unref();
}

io.on('connection', (socket) => {
  const mine = new Set();
  socket.on('create-terminal', (p = {}) => {
    const cols = Number.isInteger(p.cols) ? p.cols : 80;
    const rows = Number.isInteger(p.rows) ? p.rows : 24;
    let term;
    try {
      term = pty.spawn(shell, shellArgs, { name: 'xterm-256color', cols, rows, cwd: env.HOME || '/', env });
    } catch (err) {
      socket.emit('terminal-error', { code: 'SPAWN_FAILED', message: 'Failed to spawn terminal process', details: String(err) });
      return;
    }
    const sessionId = randomUUID();
    terminals.set(sessionId, term);
    mine.add(sessionId);
    term.onData((output) => {
      socket.emit('terminal-output', { sessionId, output, timestamp: new Date().toISOString() });
    });
    term.onExit(({ exitCode, signal }) => {
      terminals.delete(sessionId);
      mine.delete(sessionId);
      socket.emit('process-exit', { sessionId, pid: term.pid, exitCode, signal: signal || null });
    });
    socket.emit('terminal-created', { sessionId, workspaceId: p.workspaceId, shell: 'bash', pid: term.pid });
  });
  socket.on('terminal-input', (p = {}) => {
    const term = mine.has(p.sessionId) && terminals.get(p.sessionId);
    if (term && typeof p.data === 'string') term.write(p.data);
  });
  socket.on('terminal-resize', (p = {}) => {
    const term = mine.has(p.sessionId) && terminals.get(p.sessionId);
    if (term && Number.isInteger(p.cols) && Number.isInteger(p.rows)) term.resize(p.cols, p.rows);
  });
  socket.on('kill-terminal', (p = {}) => {
    const term = mine.has(p.sessionId) && terminals.get(p.sessionId);
    if (term) end(term);
    socket.emit('terminal-killed', { sessionId: p.sessionId });
  });
  socket.on('disconnect', () => {
    for (const id of mine) {
      const term = terminals.get(id);
      if (term) end(term);
    }
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  console.log(`listening ${httpServer.address().port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const term of terminals.values()) term.kill();
    process.exit(0);
  });
}
