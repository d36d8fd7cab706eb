// REST calls and the stored token. The token lives in localStorage under
// jwt_token, the key the original client used, so an existing login carries over.

const TOKEN_KEY = 'jwt_token';

export interface User {
  id: string;
  name: string;
}

export interface Workspace {
  id: string;
  name: string;
  localPath: string;
  githubRepo: string;
  repoUrl: string;
  branch: string;
  createdAt: string;
  lastActivity: string;
}

export interface TerminalInfo {
  sessionId: string;
  id?: string;
  workspaceId?: string;
  name: string;
  title?: string;
  shell: string;
  pid: number;
  cols: number;
  rows: number;
  status: string;
  attached: number;
  viewers: number;
  createdAt: string;
  lastActivity: string;
}

/** An error the server reported, with its machine-readable code. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: behave as logged out rather than crash
  }
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* nothing stored then */
  }
}

async function request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = getToken();
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError('NETWORK_ERROR', `Cannot reach the server (${(e as Error).message})`);
  }
  let data: any = null;
  try {
    data = await res.json();
  } catch {
    /* an empty or non-JSON body: the status tells the story */
  }
  if (!res.ok) {
    const err = data?.error;
    throw new ApiError(
      err?.code ?? `HTTP_${res.status}`,
      err?.message ?? `${method} ${path} failed: ${res.status} ${res.statusText}`,
      res.status,
      err?.details,
    );
  }
  return data as T;
}

export function exchangeCode(code: string): Promise<{ token: string; user: User }> {
  return request('POST', '/api/auth/exchange', { code }, false);
}

/** Revokes a token on the server, so signing out ends it everywhere and not
 * only in this browser. It outlives the page (keepalive); a failure only
 * leaves the token to expire. */
export async function revokeToken(token: string): Promise<void> {
  await fetch('/api/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` }, keepalive: true });
}

export async function listWorkspaces(): Promise<Workspace[]> {
  const r = await request<{ workspaces: Workspace[] }>('GET', '/api/workspaces');
  return r.workspaces ?? [];
}

export async function listTerminals(workspaceId: string): Promise<TerminalInfo[]> {
  const r = await request<{ terminals: TerminalInfo[] }>('GET', `/api/workspaces/${encodeURIComponent(workspaceId)}/terminals`);
  return (r.terminals ?? []).map(normalizeTerminal);
}

export interface Providers {
  github: boolean;
  githubUrl?: string;
}

/** Which sign-in providers the server offers. Older servers lack the
 * endpoint; a 404 there means "links only". */
export async function authProviders(): Promise<Providers> {
  try {
    const r = await request<any>('GET', '/api/auth/providers', undefined, false);
    const gh = r?.github ?? (Array.isArray(r?.providers) ? r.providers.find((p: any) => p?.name === 'github' || p === 'github') : undefined);
    if (!gh) return { github: false };
    return { github: gh.enabled !== false, githubUrl: typeof gh.url === 'string' ? gh.url : '/api/auth/github' };
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return { github: false };
    throw e;
  }
}

/** Terminals arrive as {sessionId} from the bridge and {id} from older servers. */
export function normalizeTerminal(t: any): TerminalInfo {
  // attached counts writable clients and viewers read-only ones; people
  // want to know how many are watching, whichever kind.
  return { ...t, sessionId: t.sessionId ?? t.id, viewers: (Number(t.attached) || 0) + (Number(t.viewers) || 0) };
}

/** A live session another user shared with us (GET /api/shared). */
export interface SharedSession {
  sessionId: string;
  name: string;
  owner: string;
  role: 'viewer' | 'editor';
  shell: string;
  cols: number;
  rows: number;
  status: string;
  expiresAt?: string;
  note?: string;
}

export async function listShared(): Promise<SharedSession[]> {
  const r = await request<{ sessions: SharedSession[] }>('GET', '/api/shared');
  return r.sessions ?? [];
}
