// The Socket.IO connection: one per page, reconnecting with back-off, with
// every client→server event wrapped as a promise of its ack.
import { io, type Socket } from 'socket.io-client';
import { ApiError } from './api';

export type ConnState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface ConnStatus {
  state: ConnState;
  attempt: number;
  /** Why the last attempt failed, for the status tooltip. */
  reason?: string;
}

export interface ConnectionHooks {
  /** The connection state changed. */
  status(s: ConnStatus): void;
  /** The server no longer accepts our token: log in again. */
  authLost(message: string): void;
  /** Connected again after a drop: re-attach terminals, re-join rooms. */
  resumed(): void;
  /** Back after the server restarted in place (it said so before it went):
   * news, not a failure. Comes after resumed. */
  restarted(): void;
  /** An ack that never came or a transport failure, for the toasts. */
  problem(message: string): void;
}

const ACK_TIMEOUT_MS = 20_000;

/** The localStorage key that picks terminal-output's form: "string" makes
 * the page ask for the JSON string form (the seeds' default) instead of the
 * exact bytes. BenchmarkPageOutputForms (web/bench_test.go) measures both;
 * it also helps to tell a proxy that mangles binary frames from a server
 * bug. Read once per connection. */
export const OUTPUT_FORM_KEY = 'codeterm.outputForm';

function outputForm(): 'binary' | 'string' {
  try {
    return localStorage.getItem(OUTPUT_FORM_KEY) === 'string' ? 'string' : 'binary';
  } catch {
    return 'binary';
  }
}

export class Connection {
  readonly socket: Socket;
  private status: ConnStatus = { state: 'connecting', attempt: 0 };
  private everConnected = false;
  private retryTimer = 0;
  private retryDelay = 500;
  private closed = false;
  private restarting = false;

  constructor(
    /** The token this connection authenticates with. */
    readonly token: string,
    private readonly hooks: ConnectionHooks,
  ) {
    this.socket = io('/', {
      // binary: terminal-output brings the exact bytes, not a JSON string.
      auth: { token, binary: outputForm() === 'binary' },
      transports: ['websocket', 'polling'],
      // Back-off: 0.5 s doubling to 10 s, jittered so a restarted server is
      // not hit by every browser at the same instant.
      reconnectionDelay: 500,
      reconnectionDelayMax: 10_000,
      randomizationFactor: 0.5,
    });
    const s = this.socket;
    s.on('connect', () => {
      window.clearTimeout(this.retryTimer);
      this.retryDelay = 500;
      this.set({ state: 'connected', attempt: 0 });
      if (this.everConnected) this.hooks.resumed();
      this.everConnected = true;
      if (this.restarting) {
        this.restarting = false;
        this.hooks.restarted();
      }
    });
    // The server is about to re-execute itself in place: the drop that
    // follows is expected, and the sessions go on.
    s.on('server-restart', () => {
      this.restarting = true;
    });
    s.on('disconnect', (reason) => {
      if (this.closed) return;
      const why = this.restarting ? 'server restarting' : describeDisconnect(reason);
      this.set({ state: 'reconnecting', attempt: 0, reason: why });
      // The client reconnects by itself except when the server closed the
      // socket on purpose; sessions outlive us, so we come back anyway.
      if (reason === 'io server disconnect') this.retryLater();
    });
    s.on('connect_error', (err: Error & { data?: any }) => {
      if (this.closed) return;
      if (isAuthFailure(err)) {
        this.hooks.authLost('Your session is no longer valid; sign in again.');
        return;
      }
      // An inactive socket will not retry by itself (the server refused us
      // for another reason); keep trying, more slowly each time.
      if (!s.active) this.retryLater();
      this.set({ ...this.status, state: this.everConnected ? 'reconnecting' : 'connecting', reason: err.message });
    });
    s.io.on('reconnect_attempt', (n) => this.set({ ...this.status, state: 'reconnecting', attempt: n }));
    s.io.on('reconnect_failed', () => this.set({ state: 'offline', attempt: 0, reason: 'gave up reconnecting' }));
    for (const ev of ['session-expired', 'force-logout', 'auth-required'] as const) {
      s.on(ev, (p: any) => this.hooks.authLost(p?.message || p?.reason || 'Please sign in again.'));
    }
    window.addEventListener('online', () => this.retryNow());
  }

  get current(): ConnStatus {
    return this.status;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Skip the back-off wait (the "retry now" button, the browser going online). */
  retryNow(): void {
    if (this.closed || this.socket.connected) return;
    window.clearTimeout(this.retryTimer);
    this.socket.disconnect();
    this.socket.connect();
    this.set({ ...this.status, state: 'reconnecting' });
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.retryTimer);
    this.socket.disconnect();
  }

  on(event: string, fn: (payload: any) => void): void {
    this.socket.on(event, fn);
  }

  off(event: string, fn: (payload: any) => void): void {
    this.socket.off(event, fn);
  }

  /** Emits an event and resolves with its ack, or rejects with the
   * server's error. Errors also arrive as error events, which the app shows;
   * callers only decide what to do next. */
  request<T = any>(event: string, payload?: unknown, timeoutMs = ACK_TIMEOUT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const args: unknown[] = payload === undefined ? [] : [payload];
      this.socket.timeout(timeoutMs).emit(event, ...args, (err: Error | null, res: any) => {
        if (err) {
          const e = new ApiError('TIMEOUT', `The server did not answer "${event}" in time`);
          this.hooks.problem(e.message);
          reject(e);
          return;
        }
        if (res && res.ok === false) {
          const e = res.error ?? {};
          reject(new ApiError(e.code ?? 'ERROR', e.message ?? `${event} failed`, 0, e.details));
          return;
        }
        resolve(res as T);
      });
    });
  }

  /** Emits without waiting, dropping the event while offline: keystrokes
   * typed into a dead connection must not replay minutes later. */
  send(event: string, payload: unknown, onError?: (e: ApiError) => void): boolean {
    if (!this.socket.connected) return false;
    this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err: Error | null, res: any) => {
      if (!err && res?.ok === false && onError) {
        const e = res.error ?? {};
        onError(new ApiError(e.code ?? 'ERROR', e.message ?? `${event} failed`, 0, e.details));
      }
    });
    return true;
  }

  private retryLater(): void {
    window.clearTimeout(this.retryTimer);
    const delay = this.retryDelay * (0.75 + Math.random() * 0.5);
    this.retryDelay = Math.min(this.retryDelay * 2, 10_000);
    this.retryTimer = window.setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private set(s: ConnStatus): void {
    this.status = s;
    this.hooks.status(s);
  }
}

function isAuthFailure(err: Error): boolean {
  return /auth/i.test(err.message) && !/timeout/i.test(err.message);
}

function describeDisconnect(reason: string): string {
  switch (reason) {
    case 'transport close':
    case 'transport error':
      return 'connection lost';
    case 'ping timeout':
      return 'server stopped answering';
    case 'io server disconnect':
      return 'server closed the connection';
    default:
      return reason;
  }
}
