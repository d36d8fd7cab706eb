// The real socket.io-client, driven by go run ./bench. Settings come from the
// environment: BENCH_URL, BENCH_PATH (socket.io path), BENCH_TOKEN,
// BENCH_WORKSPACE, BENCH_PROTO ("seed": create-terminal and friends, as
// codeterm and server.mjs speak them; "wetty": wetty's input/data/commit).
//
//	node client.mjs term       a terminal on stdin/stdout: input is sent as it
//	                           comes, output written as it arrives; exits when
//	                           the shell does
//	node client.mjs exits N    N sessions that each run `echo R$((6*7)); exit`;
//	                           prints "lost K", the runs whose R42 never came
//	node client.mjs setup N    N times: a new connection and session, timed from
//	                           the dial to the shell's first prompt; prints
//	                           "setup US..." (microseconds)
import { io } from 'socket.io-client';

const URL = process.env.BENCH_URL;
const PATH = process.env.BENCH_PATH || '/socket.io';
const TOKEN = process.env.BENCH_TOKEN || '';
const WORKSPACE = process.env.BENCH_WORKSPACE || '';
const PROTO = process.env.BENCH_PROTO || 'seed';
const COLS = 120;
const ROWS = 40;
const DEADLINE = 60000;
// What bash's readline writes as it starts reading a command line
// (bracketed paste on): the shell's first prompt.
const PROMPT = '\x1b[?2004h';

function connect() {
  const socket = io(URL, {
    path: PATH,
    auth: { token: TOKEN },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  if (PROTO === 'wetty') {
    // wetty spawns the shell as it accepts the socket: its first events can
    // come with the connect, before a Terminal listens.
    socket.early = [];
    socket.loggedIn = false;
    socket.on('data', (s) => socket.early?.push(s));
    socket.once('login', () => { socket.loggedIn = true; });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), DEADLINE);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', (err) => { clearTimeout(timer); reject(err); });
  });
}

// A terminal on a socket: onOutput(string), onExit(); input(string), kill().
class Terminal {
  constructor(socket) {
    this.socket = socket;
    this.sessionId = null;
    this.onOutput = () => {};
    this.onExit = () => {};
    this.handlers = [];
  }

  on(event, fn) {
    this.socket.on(event, fn);
    this.handlers.push([event, fn]);
  }

  // open resolves once the session exists.
  open() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no session')), DEADLINE);
      if (PROTO === 'wetty') {
        // wetty spawns the shell on connect and says "login"; a client
        // commits every 256 KiB it has written (flow control).
        let uncommitted = 0;
        this.on('data', (s) => {
          this.onOutput(s);
          uncommitted += s.length;
          while (uncommitted >= 262144) {
            uncommitted -= 262144;
            this.socket.emit('commit', 262144);
          }
        });
        this.on('logout', () => this.onExit());
        const ready = () => {
          clearTimeout(timer);
          const early = this.socket.early;
          this.socket.early = null;
          for (const s of early) this.onOutput(s);
          this.socket.emit('resize', { cols: COLS, rows: ROWS });
          resolve();
        };
        if (this.socket.loggedIn) ready();
        else this.socket.once('login', ready);
        return;
      }
      this.on('terminal-output', (o) => {
        if (this.sessionId === null || o.sessionId === this.sessionId) this.onOutput(o.output);
      });
      this.on('process-exit', (o) => {
        if (o.sessionId === this.sessionId) this.onExit();
      });
      this.on('terminal-created', (o) => {
        if (this.sessionId !== null) return;
        clearTimeout(timer);
        this.sessionId = o.sessionId;
        resolve();
      });
      this.on('terminal-error', (e) => { clearTimeout(timer); reject(new Error(JSON.stringify(e))); });
      this.on('error', (e) => { clearTimeout(timer); reject(new Error(JSON.stringify(e))); });
      this.socket.emit('create-terminal', { workspaceId: WORKSPACE, cols: COLS, rows: ROWS });
    });
  }

  input(data) {
    if (PROTO === 'wetty') this.socket.emit('input', data);
    else this.socket.emit('terminal-input', { sessionId: this.sessionId, data });
  }

  kill() {
    if (PROTO !== 'wetty' && this.sessionId) this.socket.emit('kill-terminal', { sessionId: this.sessionId });
  }

  release() {
    for (const [event, fn] of this.handlers) this.socket.off(event, fn);
    this.handlers = [];
  }
}

async function term() {
  const socket = await connect();
  const t = new Terminal(socket);
  const pending = [];
  t.onOutput = (s) => process.stdout.write(s);
  t.onExit = () => {
    socket.close();
    process.exit(0);
  };
  socket.on('disconnect', () => process.exit(0));
  let open = false;
  process.stdin.on('data', (b) => {
    if (open) t.input(b.toString('utf8'));
    else pending.push(b.toString('utf8'));
  });
  process.stdin.on('end', () => { socket.close(); process.exit(0); });
  await t.open();
  open = true;
  for (const s of pending) t.input(s);
}

async function exits(n) {
  let lost = 0;
  let socket = null;
  for (let i = 0; i < n; i++) {
    if (socket === null || PROTO === 'wetty') socket = await connect();
    const t = new Terminal(socket);
    let out = '';
    let prompted;
    const prompt = new Promise((resolve) => { prompted = resolve; });
    const ended = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`run ${i}: no exit`)), DEADLINE);
      t.onOutput = (s) => { out += s; if (out.includes(PROMPT)) prompted(); };
      t.onExit = () => { clearTimeout(timer); resolve(); };
    });
    await t.open();
    await prompt; // the shell is up: what is lost is lost at the exit
    t.input('echo R$((6*7)); exit\r');
    await ended;
    t.release();
    if (!out.includes('R42')) lost++;
    if (PROTO === 'wetty') socket.close();
  }
  if (socket) socket.close();
  console.log(`lost ${lost}`);
}

async function setup(n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    const socket = await connect();
    const t = new Terminal(socket);
    let seen = '';
    const first = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no prompt')), DEADLINE);
      t.onOutput = (s) => {
        seen += s;
        if (seen.includes(PROMPT)) { clearTimeout(timer); resolve(); }
      };
    });
    await t.open();
    await first;
    times.push(Number((process.hrtime.bigint() - start) / 1000n));
    t.onOutput = () => {};
    // codeterm's sessions outlive their sockets: kill it and wait for the
    // end. The others end a socket's shells when it goes.
    const gone = new Promise((resolve) => {
      const timer = setTimeout(resolve, 10000);
      t.onExit = () => { clearTimeout(timer); resolve(); };
      socket.once('disconnect', () => { clearTimeout(timer); resolve(); });
    });
    t.kill();
    if (PROTO === 'wetty') socket.close();
    await gone;
    t.release();
    socket.close();
  }
  console.log(`setup ${times.join(' ')}`);
}

const [mode, arg] = process.argv.slice(2);
const n = Number(arg || 1);
const run = { term, exits: () => exits(n), setup: () => setup(n) }[mode];
if (!run) {
  console.error('usage: node client.mjs term | exits N | setup N');
  process.exit(2);
}
run().then(
  () => { if (mode !== 'term') process.exit(0); },
  (err) => { console.error(`client: ${err.message}`); process.exit(1); },
);
