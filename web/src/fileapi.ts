// The file events of one workspace as promises: listing, reading, saving,
// chunked uploads that survive a dropped connection, and downloads.
import { ApiError, getToken } from './api';
import type { Connection } from './socket';

export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtime: string;
  mode: string;
  gitStatus?: string;
}

export interface ReadResult {
  content: string | ArrayBuffer;
  encoding: 'utf8' | 'binary';
  size: number;
  mtime: string;
  sha256: string;
}

export interface UploadProgress {
  sent: number;
  size: number;
}

const CHUNK_TIMEOUT_MS = 60_000;
const DIGEST_MAX = 64 << 20;

async function digest(file: Blob): Promise<string | undefined> {
  try {
    const d = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
    return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
  } catch {
    return undefined; // not a secure context, or out of memory: upload unchecked
  }
}

export class FileClient {
  constructor(
    readonly conn: Connection,
    readonly workspaceId: string,
  ) {}

  async list(path: string): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    let cursor: string | undefined;
    do {
      const r: any = await this.conn.request('list-files', { workspaceId: this.workspaceId, path, cursor });
      out.push(...(r.entries as FileEntry[]));
      cursor = r.cursor;
    } while (cursor);
    return out;
  }

  read(path: string): Promise<ReadResult> {
    return this.conn.request('read-file', { workspaceId: this.workspaceId, path });
  }

  /** Saves text; baseSha256 makes a changed file a FILE_CONFLICT error. */
  write(path: string, content: string, baseSha256?: string, create = false): Promise<{ sha256: string; mtime: string }> {
    return this.conn.request('write-file', { workspaceId: this.workspaceId, path, content, baseSha256, create });
  }

  mkdir(path: string): Promise<unknown> {
    return this.conn.request('create-directory', { workspaceId: this.workspaceId, path, parents: true });
  }

  rename(from: string, to: string): Promise<unknown> {
    return this.conn.request('rename-file', { workspaceId: this.workspaceId, from, to });
  }

  remove(path: string, recursive: boolean): Promise<unknown> {
    return this.conn.request('delete-file', { workspaceId: this.workspaceId, path, recursive });
  }

  /** Uploads a file in chunks with a few in flight. A dropped connection
   * or a refused chunk is not the end: the upload resumes from the offset
   * the server last wrote. */
  async upload(path: string, file: Blob, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<void> {
    // The server checks what it received against the digest when the
    // browser can compute one without holding too much in memory.
    const sha256 = file.size <= DIGEST_MAX && crypto.subtle ? await digest(file) : undefined;
    const start: any = await this.conn.request('upload-file', { workspaceId: this.workspaceId, path, size: file.size, sha256, overwrite: true });
    const id: string = start.uploadId;
    const chunk: number = start.chunkSize;
    const window: number = Math.max(1, Math.min(start.window ?? 4, 4));
    let offset = 0;
    let failures = 0;
    onProgress({ sent: 0, size: file.size });
    if (file.size === 0) return;
    for (;;) {
      if (signal?.aborted) {
        this.conn.send('cancel-upload', { uploadId: id });
        throw new ApiError('CANCELLED', 'Upload cancelled');
      }
      try {
        const done = await this.sendFrom(id, file, offset, chunk, window, (sent) => onProgress({ sent, size: file.size }), signal);
        if (done) return;
      } catch (e) {
        const code = (e as ApiError).code;
        if (code === 'CHECKSUM_MISMATCH' || code === 'UPLOAD_NOT_FOUND' || code === 'FILE_TOO_LARGE' || ++failures > 20) throw e;
        await waitConnected(this.conn, signal);
      }
      const r: any = await this.conn.request('upload-file', { uploadId: id });
      offset = r.offset;
    }
  }

  /** Sends chunks from offset until the end; true once the server says the
   * file is complete. */
  private sendFrom(id: string, file: Blob, offset: number, chunk: number, window: number, progress: (n: number) => void, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let next = offset;
      let inflight = 0;
      let failed = false;
      // One pump at a time: chunks must leave in order, and reading a
      // slice is asynchronous.
      let pumping = false;
      const pump = async () => {
        if (pumping) return;
        pumping = true;
        try {
          while (!failed && inflight < window && next < file.size) {
            if (signal?.aborted) {
              failed = true;
              reject(new ApiError('CANCELLED', 'Upload cancelled'));
              return;
            }
            const at = next;
            const end = Math.min(at + chunk, file.size);
            const data = await file.slice(at, end).arrayBuffer();
            if (failed) return;
            next = end;
            inflight++;
            this.conn.socket.timeout(CHUNK_TIMEOUT_MS).emit('upload-chunk', { uploadId: id, offset: at, data }, (err: Error | null, ack: any) => {
              inflight--;
              if (failed) return;
              if (err || !ack?.ok) {
                failed = true;
                const e = ack?.error ?? {};
                reject(new ApiError(err ? 'TIMEOUT' : (e.code ?? 'ERROR'), err ? 'Upload stalled' : (e.message ?? 'Upload failed')));
                return;
              }
              progress(ack.offset);
              if (ack.done) resolve(true);
              else void pump();
            });
          }
        } finally {
          pumping = false;
        }
      };
      void pump();
    });
  }

  /** Downloads through the browser's own download manager: the file is
   * fetched with the token (a link cannot carry the header) and saved. */
  async download(path: string): Promise<void> {
    const res = await fetch(this.httpURL(path), { headers: { Authorization: `Bearer ${getToken() ?? ''}` } });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new ApiError(body?.error?.code ?? 'ERROR', body?.error?.message ?? `Download failed (${res.status})`, res.status);
    }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = path.split('/').pop() || 'download';
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  httpURL(path: string): string {
    return `/api/workspaces/${encodeURIComponent(this.workspaceId)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
  }
}

function waitConnected(conn: Connection, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (conn.connected || signal?.aborted) {
      window.setTimeout(resolve, 500);
      return;
    }
    const on = () => {
      conn.socket.off('connect', on);
      resolve();
    };
    conn.socket.on('connect', on);
  });
}
