// Package files is codeterm's file layer: listing, reading, writing,
// renaming and deleting the files of a workspace, and chunked uploads that
// only appear once complete and verified.
//
// Every path is relative to the workspace directory and is resolved through
// a Root, normally Go's os.Root, so neither "..", an absolute path nor a
// symbolic link (even one swapped in while an operation runs) reaches
// outside it. Device files, FIFOs and sockets are refused after they are
// opened, from the descriptor, so no check-then-open race remains.
//
// Nothing here speaks HTTP or Socket.IO: the browser bridge translates
// events and requests into Tree calls and Code(err) into error codes.
//
// Who performs the operations is the Opener's business. The default opens
// an os.Root in the server's own process. With per-user OS accounts, the
// server sets Config.Opener to one that opens the Root (and so every file
// under it) with the user's credentials.
package files
