package webbridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// The file events: list-files, read-file, write-file, create-directory,
// rename-file, delete-file, the chunked upload-file / upload-chunk /
// cancel-upload and download-file / cancel-download. Their failures go to
// the ack and the general error event. File operations run off the
// socket's reading goroutine (goWork); an upload's chunks are written by
// the upload's own goroutine, in order.

const (
	// downloadChunk is the size of a file-chunk. Two fit the socket's
	// default outbound queue, so a download keeps the pipe full without
	// starving terminal output.
	downloadChunk = 256 << 10
	// maxUploadChunk is the largest upload chunk a client is told to send;
	// it is lowered to fit http.max_payload.
	maxUploadChunk = 512 << 10
	// maxDownloads bounds one socket's concurrent downloads.
	maxDownloads  = 4
	fileOpTimeout = 30 * time.Second
)

func registerFileEvents(ns *socketio.Namespace) {
	// A chunk an upload takes is paced by the upload's window and acks,
	// not by the event rate: a 256 MiB upload is 512 events. Refused
	// chunks cost a token like any event (see refuse).
	ns.On("upload-chunk", func(s *socketio.Socket, m *socketio.Message, ack socketio.AckFunc) {
		c := clientOf(s)
		if c == nil {
			return
		}
		r := &reply{c: c, event: "upload-chunk", errEvent: "error", ack: ack}
		if c.srv.Files == nil {
			c.refuse(r, unavailable("File access"))
			return
		}
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("event handler panic", "event", r.event, "panic", p)
				r.fail(internalError())
			}
		}()
		c.uploadChunk(m, r)
	})
	for ev, h := range map[string]handler{
		"list-files":       (*client).listFiles,
		"read-file":        (*client).readFile,
		"write-file":       (*client).writeFile,
		"create-directory": (*client).createDirectory,
		"rename-file":      (*client).renameFile,
		"delete-file":      (*client).deleteFile,
		"upload-file":      (*client).uploadFile,
		"cancel-upload":    (*client).cancelUpload,
		"download-file":    (*client).downloadFile,
		"cancel-download":  (*client).cancelDownload,
	} {
		on(ns, ev, "error", func(c *client, m *socketio.Message, r *reply) {
			if c.srv.Files == nil {
				r.fail(unavailable("File access"))
				return
			}
			h(c, m, r)
		})
	}
}

var fileEvents = []string{"list-files", "read-file", "write-file", "create-directory", "rename-file", "delete-file",
	"upload-file", "upload-chunk", "cancel-upload", "download-file", "cancel-download"}

var fileMessages = map[string]string{
	"INVALID_PATH":        "Invalid path",
	"FILE_NOT_FOUND":      "File not found",
	"FILE_EXISTS":         "A file with this name already exists",
	"NOT_A_FILE":          "Not a regular file",
	"NOT_A_DIRECTORY":     "Not a directory",
	"DIRECTORY_NOT_EMPTY": "Directory not empty",
	"FILE_CONFLICT":       "The file changed since it was read",
	"FILE_TOO_LARGE":      "File too large; download it instead",
	"PERMISSION_DENIED":   "Permission denied",
	"UPLOAD_NOT_FOUND":    "Upload not found",
	"UPLOAD_OFFSET":       "Chunk out of order",
	"UPLOAD_WINDOW_FULL":  "Too many chunks in flight",
	"CHECKSUM_MISMATCH":   "The uploaded file does not match its checksum",
	"LIMIT_EXCEEDED":      "Too many uploads in progress",
	"CANCELLED":           "Operation cancelled",
}

// fileError maps a files error to the wire. A workspace that is missing or
// someone else's gets the one WORKSPACE_NOT_FOUND answer.
func (c *client) fileError(workspaceID string, err error) *wireError {
	code := files.Code(err)
	switch code {
	case CodeWorkspaceNotFound:
		return workspaceNotFound(workspaceID)
	case CodeInternal, "":
		c.log.Error("file operation", "workspace", workspaceID, "err", err)
		return internalError()
	}
	return &wireError{Code: code, Message: fileMessages[code], Details: err.Error()}
}

// withTree decodes a payload naming a workspace into p, checks it with
// check (if not nil), then runs fn with the workspace's tree off the
// reading goroutine and acks what it returns.
func (c *client) withTree(m *socketio.Message, r *reply, op string, p any, id *string, check func() *wireError, fn func(t *files.Tree) (map[string]any, error)) {
	r.operation = op
	if !decodeWorkspaceEvent(m, r, p, id) {
		return
	}
	if check != nil {
		if e := check(); e != nil {
			r.fail(e)
			return
		}
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, fileOpTimeout)
		defer cancel()
		t, err := c.srv.Files.Open(ctx, c.user, *id)
		if err != nil {
			r.fail(c.fileError(*id, err))
			return
		}
		defer t.Close()
		out, err := fn(t)
		if err != nil {
			r.fail(c.fileError(*id, err))
			return
		}
		if out == nil {
			out = map[string]any{}
		}
		out["ok"] = true
		c.ackWait(ctx, r, out)
	})
}

type entryJSON struct {
	files.Entry
	Mode      string `json:"mode"`
	Mtime     string `json:"mtime"`
	GitStatus string `json:"gitStatus,omitempty"`
}

func toEntryJSON(e files.Entry, git map[string]string) entryJSON {
	return entryJSON{Entry: e, Mode: fmt.Sprintf("%04o", e.Mode.Perm()), Mtime: timestamp(e.Mtime), GitStatus: git[e.Path]}
}

// withDirs adds "modified" for every directory holding a changed path, so
// a collapsed folder shows that something inside it changed.
func withDirs(git map[string]string) map[string]string {
	out := make(map[string]string, len(git)*2)
	for p, st := range git {
		out[p] = st
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := out[d]; ok && out[d] == "modified" {
				break
			}
			out[d] = "modified"
		}
	}
	return out
}

// list-files {workspaceId, path?, depth?, cursor?, limit?}
func (c *client) listFiles(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Path        string `json:"path"`
		Depth       int    `json:"depth"`
		Cursor      string `json:"cursor"`
		Limit       int    `json:"limit"`
	}
	c.withTree(m, r, "list", &p, &p.WorkspaceID, nil, func(t *files.Tree) (map[string]any, error) {
		l, err := t.List(p.Path, p.Depth, min(max(p.Limit, 0), 5000), p.Cursor)
		if err != nil {
			return nil, err
		}
		git := withDirs(c.gitStatuses(p.WorkspaceID))
		entries := make([]entryJSON, len(l.Entries))
		for i, e := range l.Entries {
			entries[i] = toEntryJSON(e, git)
		}
		dir, _ := files.CleanPath(p.Path)
		out := map[string]any{"workspaceId": p.WorkspaceID, "path": dir, "entries": entries}
		if l.Cursor != "" {
			out["cursor"] = l.Cursor
		}
		return out, nil
	})
}

// read-file {workspaceId, path, offset?, length?}: text comes back as a
// string, anything else as a binary attachment.
func (c *client) readFile(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Path        string `json:"path"`
		Offset      int64  `json:"offset"`
		Length      int64  `json:"length"`
	}
	r.operation = "read"
	if !decodeWorkspaceEvent(m, r, &p, &p.WorkspaceID) {
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, fileOpTimeout)
		defer cancel()
		t, err := c.srv.Files.Open(ctx, c.user, p.WorkspaceID)
		if err != nil {
			r.fail(c.fileError(p.WorkspaceID, err))
			return
		}
		defer t.Close()
		res, err := t.Read(p.Path, p.Offset, p.Length)
		if err != nil {
			r.fail(c.fileError(p.WorkspaceID, err))
			return
		}
		var content any = socketio.Text(res.Data)
		encoding := "utf8"
		if !isText(res.Data) {
			content, encoding = res.Data, "binary"
		}
		c.ackWait(ctx, r, socketio.Fields{{Key: "ok", Value: true}, {Key: "workspaceId", Value: p.WorkspaceID},
			{Key: "path", Value: p.Path}, {Key: "content", Value: content}, {Key: "encoding", Value: encoding},
			{Key: "size", Value: res.Size}, {Key: "offset", Value: p.Offset}, {Key: "mtime", Value: timestamp(res.Mtime)},
			{Key: "sha256", Value: res.Sha256}})
	})
}

// ackWait answers r with v, waiting for room in the socket's queue: a
// listing or a file can be larger than what is left of it while a
// terminal streams, and r.ok would drop the answer.
func (c *client) ackWait(ctx context.Context, r *reply, v any) {
	if r.ack == nil {
		return
	}
	wait := 5 * time.Millisecond
	for {
		err := r.ack(v)
		if !errors.Is(err, socketio.ErrQueueFull) {
			if err != nil && !errors.Is(err, socketio.ErrDisconnected) {
				c.log.Debug("ack", "event", r.event, "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			c.log.Info("ack dropped: the client reads too slowly", "event", r.event)
			return
		case <-time.After(wait):
			wait = min(2*wait, 200*time.Millisecond)
		}
	}
}

// isText tells text an editor can show from binary: valid UTF-8 without
// NUL bytes (which is how git guesses too).
func isText(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return false
		}
	}
	return utf8.Valid(b)
}

// write-file {workspaceId, path, content, baseSha256?, create?}: content
// is a string or binary.
func (c *client) writeFile(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string          `json:"workspaceId"`
		Path        string          `json:"path"`
		Content     json.RawMessage `json:"content"`
		BaseSha256  string          `json:"baseSha256"`
		Create      bool            `json:"create"`
		Overwrite   bool            `json:"overwrite"`
	}
	var data []byte
	c.withTree(m, r, "write", &p, &p.WorkspaceID, func() *wireError {
		if b, ok := m.Attachment(p.Content); ok {
			data = b
			return nil
		}
		var s string
		if len(p.Content) == 0 || json.Unmarshal(p.Content, &s) != nil {
			return invalidField("content", "content must be a string or binary")
		}
		data = []byte(s)
		return nil
	}, func(t *files.Tree) (map[string]any, error) {
		res, err := t.Write(p.Path, data, files.WriteOptions{BaseSha256: p.BaseSha256, Create: p.Create, Overwrite: p.Overwrite})
		if err != nil {
			return nil, err
		}
		return map[string]any{"workspaceId": p.WorkspaceID, "path": p.Path, "sha256": res.Sha256, "size": res.Size,
			"mtime": timestamp(res.Mtime)}, nil
	})
}

// create-directory {workspaceId, path, parents?}
func (c *client) createDirectory(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Path        string `json:"path"`
		Parents     bool   `json:"parents"`
	}
	c.withTree(m, r, "mkdir", &p, &p.WorkspaceID, func() *wireError { return required("path", p.Path) }, func(t *files.Tree) (map[string]any, error) {
		if err := t.Mkdir(p.Path, p.Parents); err != nil {
			return nil, err
		}
		return map[string]any{"workspaceId": p.WorkspaceID, "path": p.Path}, nil
	})
}

// rename-file {workspaceId, from, to}
func (c *client) renameFile(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		From        string `json:"from"`
		To          string `json:"to"`
	}
	c.withTree(m, r, "rename", &p, &p.WorkspaceID, func() *wireError {
		if e := required("from", p.From); e != nil {
			return e
		}
		return required("to", p.To)
	}, func(t *files.Tree) (map[string]any, error) {
		if err := t.Rename(p.From, p.To); err != nil {
			return nil, err
		}
		return map[string]any{"workspaceId": p.WorkspaceID, "from": p.From, "to": p.To}, nil
	})
}

// delete-file {workspaceId, path, recursive?}
func (c *client) deleteFile(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Path        string `json:"path"`
		Recursive   bool   `json:"recursive"`
	}
	c.withTree(m, r, "delete", &p, &p.WorkspaceID, func() *wireError { return required("path", p.Path) }, func(t *files.Tree) (map[string]any, error) {
		if err := t.Delete(p.Path, p.Recursive); err != nil {
			return nil, err
		}
		return map[string]any{"workspaceId": p.WorkspaceID, "path": p.Path}, nil
	})
}

// uploadChunkSize is the chunk size clients are told to use: as large as
// fits one Engine.IO message, base64 included for polling clients.
func (s *Server) uploadChunkSize() int64 {
	n := (s.Socket.MaxPayload - 4096) * 3 / 4
	if s.Socket.MaxPayload <= 0 {
		n = maxUploadChunk
	}
	return max(4096, min(n, maxUploadChunk))
}

// upload-file {workspaceId, path, size, sha256?, overwrite?} starts an
// upload; {uploadId} instead resumes one. Both answer {uploadId, offset,
// chunkSize, window}: send chunks from offset.
func (c *client) uploadFile(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Path        string `json:"path"`
		Size        *int64 `json:"size"`
		Sha256      string `json:"sha256"`
		Overwrite   bool   `json:"overwrite"`
		UploadID    string `json:"uploadId"`
	}
	r.operation = "upload"
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	r.workspaceID = p.WorkspaceID
	answer := func(u *files.Upload, off int64) {
		r.ok(map[string]any{"uploadId": u.ID, "workspaceId": u.WorkspaceID, "path": u.Path, "size": u.Size,
			"offset": off, "chunkSize": c.srv.uploadChunkSize(), "window": files.UploadWindow})
	}
	if p.UploadID != "" {
		if e := requiredID("uploadId", p.UploadID); e != nil {
			r.fail(e)
			return
		}
		c.goWork(func() {
			u, err := c.srv.Files.Upload(c.user.ID, p.UploadID)
			if err != nil {
				r.fail(c.fileError(p.WorkspaceID, err))
				return
			}
			ctx, cancel := context.WithTimeout(c.ctx, fileOpTimeout)
			defer cancel()
			pr, err := u.Resume(ctx)
			if err != nil {
				r.fail(c.fileError(p.WorkspaceID, err))
				return
			}
			answer(u, pr.Offset)
		})
		return
	}
	if e := requiredID("workspaceId", p.WorkspaceID); e != nil {
		r.fail(e)
		return
	}
	if e := required("path", p.Path); e != nil {
		r.fail(e)
		return
	}
	if p.Size == nil {
		r.fail(invalidField("size", "size is required"))
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, fileOpTimeout)
		defer cancel()
		u, err := c.srv.Files.StartUpload(ctx, c.user, p.WorkspaceID,
			files.UploadOptions{Path: p.Path, Size: *p.Size, Sha256: p.Sha256, Overwrite: p.Overwrite})
		if err != nil {
			r.fail(c.fileError(p.WorkspaceID, err))
			return
		}
		answer(u, 0)
	})
}

// upload-chunk {uploadId, offset, data}: data is binary. The ack comes
// once the chunk is on disk: {offset (the next one), size, done, sha256}.
// It runs on the reading goroutine but only queues the chunk.
func (c *client) uploadChunk(m *socketio.Message, r *reply) {
	var p struct {
		UploadID string          `json:"uploadId"`
		Offset   *int64          `json:"offset"`
		Data     json.RawMessage `json:"data"`
	}
	r.operation = "upload"
	if e := decodePayload(m, &p); e != nil {
		c.refuse(r, e)
		return
	}
	if e := requiredID("uploadId", p.UploadID); e != nil {
		c.refuse(r, e)
		return
	}
	if p.Offset == nil {
		c.refuse(r, invalidField("offset", "offset is required"))
		return
	}
	data, ok := m.Attachment(p.Data)
	if !ok {
		c.refuse(r, invalidField("data", "data must be binary (an ArrayBuffer, Blob or Buffer)"))
		return
	}
	u, err := c.srv.Files.Upload(c.user.ID, p.UploadID)
	if err != nil {
		c.refuse(r, c.fileError("", err))
		return
	}
	r.workspaceID = u.WorkspaceID
	err = u.Write(*p.Offset, data, func(pr files.Progress, err error) {
		if err != nil {
			r.fail(c.fileError(u.WorkspaceID, err))
			return
		}
		progress := map[string]any{"uploadId": u.ID, "workspaceId": u.WorkspaceID, "path": u.Path,
			"offset": pr.Offset, "size": pr.Size, "done": pr.Done}
		if pr.Done {
			progress["sha256"] = pr.Sha256
		}
		r.ok(progress)
		c.emit("upload-progress", progress)
	})
	if err != nil {
		c.refuse(r, c.fileError(u.WorkspaceID, err))
	}
}

// refuse answers a refused upload-chunk, taking a token as any event
// would: a stream of bad chunks is rate limited like a stream of bad
// events.
func (c *client) refuse(r *reply, e *wireError) {
	if !c.bucket.take(time.Now()) {
		c.rateLimited(r)
		return
	}
	r.fail(e)
}

// cancel-upload {uploadId}: the partial file is removed.
func (c *client) cancelUpload(m *socketio.Message, r *reply) {
	var p struct {
		UploadID string `json:"uploadId"`
	}
	r.operation = "upload"
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	if e := requiredID("uploadId", p.UploadID); e != nil {
		r.fail(e)
		return
	}
	u, err := c.srv.Files.Upload(c.user.ID, p.UploadID)
	if err != nil {
		r.fail(c.fileError("", err))
		return
	}
	c.goWork(func() {
		u.Abort()
		r.ok(map[string]any{"uploadId": u.ID, "cancelled": true})
	})
}

// downloads are one socket's downloads in progress, by id.
type downloads struct {
	mu     sync.Mutex
	byID   map[string]context.CancelFunc
	nextID int
}

// download-file {workspaceId, path, offset?}: the ack {downloadId, size,
// mtime} comes first, then file-chunk {downloadId, offset, data} events in
// order, the last one with done: true and the sha256 of the whole file.
func (c *client) downloadFile(m *socketio.Message, r *reply) {
	var p struct {
		WorkspaceID string `json:"workspaceId"`
		Path        string `json:"path"`
		Offset      int64  `json:"offset"`
	}
	r.operation = "download"
	if !decodeWorkspaceEvent(m, r, &p, &p.WorkspaceID) {
		return
	}
	if p.Offset < 0 {
		r.fail(invalidField("offset", "offset must not be negative"))
		return
	}
	c.dl.mu.Lock()
	if len(c.dl.byID) >= maxDownloads {
		c.dl.mu.Unlock()
		r.fail(&wireError{Code: CodeLimitExceeded, Message: "Too many downloads in progress",
			Details: fmt.Sprintf("at most %d at a time per connection", maxDownloads)})
		return
	}
	if c.dl.byID == nil {
		c.dl.byID = map[string]context.CancelFunc{}
	}
	c.dl.nextID++
	id := fmt.Sprintf("d%d", c.dl.nextID)
	ctx, cancel := context.WithCancel(c.ctx)
	c.dl.byID[id] = cancel
	c.dl.mu.Unlock()
	c.goWork(func() {
		defer func() {
			c.dl.mu.Lock()
			delete(c.dl.byID, id)
			c.dl.mu.Unlock()
			cancel()
		}()
		if err := c.download(ctx, r, id, p.WorkspaceID, p.Path, p.Offset); err != nil {
			c.log.Debug("download ended", "download", id, "err", err)
		}
	})
}

func (c *client) download(ctx context.Context, r *reply, id, workspaceID, name string, offset int64) error {
	t, err := c.srv.Files.Open(ctx, c.user, workspaceID)
	if err != nil {
		r.fail(c.fileError(workspaceID, err))
		return err
	}
	defer t.Close()
	f, fi, err := t.OpenRegular(name)
	if err != nil {
		r.fail(c.fileError(workspaceID, err))
		return err
	}
	defer f.Close()
	size := fi.Size()
	offset = min(offset, size)
	r.ok(map[string]any{"downloadId": id, "workspaceId": workspaceID, "path": name, "size": size,
		"offset": offset, "mtime": timestamp(fi.ModTime())})
	// The digest covers the whole file, also when the client resumes.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, offset)); err != nil {
		return err
	}
	buf := make([]byte, downloadChunk)
	for {
		n, err := f.ReadAt(buf, offset)
		if n > 0 {
			h.Write(buf[:n])
			if err := c.sock.EmitContext(ctx, "file-chunk", socketio.Fields{{Key: "downloadId", Value: id},
				{Key: "offset", Value: offset}, {Key: "data", Value: buf[:n]}}); err != nil {
				return err
			}
			offset += int64(n)
		}
		if errors.Is(err, io.EOF) || offset >= size {
			break
		}
		if err != nil {
			c.emit("file-chunk", map[string]any{"downloadId": id, "offset": offset, "done": true,
				"error": c.fileError(workspaceID, err)})
			return err
		}
	}
	return c.sock.EmitContext(ctx, "file-chunk", socketio.Fields{{Key: "downloadId", Value: id},
		{Key: "offset", Value: offset}, {Key: "data", Value: []byte{}}, {Key: "done", Value: true},
		{Key: "sha256", Value: hex.EncodeToString(h.Sum(nil))}})
}

// cancel-download {downloadId}
func (c *client) cancelDownload(m *socketio.Message, r *reply) {
	var p struct {
		DownloadID string `json:"downloadId"`
	}
	r.operation = "download"
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	c.dl.mu.Lock()
	cancel := c.dl.byID[p.DownloadID]
	c.dl.mu.Unlock()
	if cancel == nil {
		r.fail(&wireError{Code: "DOWNLOAD_NOT_FOUND", Message: "Download not found"})
		return
	}
	cancel()
	r.ok(map[string]any{"downloadId": p.DownloadID, "cancelled": true})
}

// gitStatuses is the workspace's changed paths with their kind, for the
// tree's colours; nil when git cannot tell (no repository, no manager).
func (c *client) gitStatuses(workspaceID string) map[string]string {
	if c.srv.Workspaces == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	st, err := c.srv.Workspaces.FileStatuses(ctx, c.user.ID, workspaceID)
	if err != nil {
		c.log.Debug("git statuses for the file tree", "workspace", workspaceID, "err", err)
		return nil
	}
	return st
}
