// Package sessions is the session core: shells on PTYs shared by any number
// of clients, like a shared tmux window. It knows nothing of SSH or HTTP;
// both front-ends drive it through three types:
//
//   - Manager creates, finds, lists and kills sessions, per user and per
//     workspace, enforcing limits. A user never sees another user's
//     sessions: they are reported exactly like missing ones (ErrNotFound).
//   - Session is one login shell on a PTY, in its own session and process
//     group, with an allow-listed environment (see Environ).
//   - Attachment is one client's view of a session.
//
// # Data path
//
// One goroutine per session reads the PTY, in bursts of up to 64 KiB. Each
// read goes through a small streaming filter that takes terminal queries out
// (see ChunkQuery), then into a replay ring of recent output, the queue of
// every attachment and, if configured, an asciicast recording. The screen
// emulator (sessions/vt) follows the ring on a goroutine of its own while
// output flows, so the reader is back at the PTY sooner; whatever reads the
// screen (a repaint, a resize, the title) first catches it up, so it always
// shows exactly the output up to the session's offset.
// The shell runs at the pace of the fastest attached client that is
// reading: while every such client has half of Config.QueueBytes
// queued, the reader waits and the kernel's PTY buffer holds the shell, so
// a client alone gets every byte. A client behind the fastest by more than
// its queue, or one that took nothing for Config.StallTimeout, has its
// queue dropped and gets a repaint (with the server-side scrollback) when
// it next calls Next; the shell and the other clients never wait for it.
// With no client the shell runs free. See pace.go.
//
// # Offsets
//
// Every output byte has an offset; Chunk.Seq is the offset after a chunk.
// A client that reconnects passes the last Seq it saw as
// AttachOptions.LastSeq and gets exactly the bytes it missed while the ring
// holds them, otherwise a repaint. Queries do not count.
//
// # Who answers queries, whose size wins
//
// The most recently active writable client (the last to attach, type or
// resize) answers terminal queries, and the most recently active one that
// gave its size sets the window size, as tmux's "latest" policy. Viewers
// (read-only attachments) never do either. A client whose window keeps its
// own size (AttachOptions.Viewport: an SSH terminal) and differs from the
// session's gets views of the part of the screen that fits instead of the
// output, so every client shows a screen consistent with the shell's size.
//
// # Exit
//
// When the shell exits, the PTY is read to its end (EIO) so no output is
// lost, every attachment gets it all, then a ChunkExit with the status, and
// the session is recorded as terminated in the store.
package sessions
