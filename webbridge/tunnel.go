package webbridge

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// tunnelProtocolPrefix marks the bearer token among the WebSocket
// subprotocols, where a browser (which cannot set headers) puts it.
const tunnelProtocolPrefix = "codeterm.bearer."

// tunnel is GET /tunnel/{workspaceId}/{port}: a WebSocket carrying a TCP
// connection to one of the workspace's ports on loopback, in binary
// frames both ways, as websockify does (noVNC connects to it unchanged).
// As with SSH forwarding the server dials on loopback only; and only a
// port that a process of the user's workspace listens on.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	var offered []string
	for _, p := range websocket.Subprotocols(r) {
		if tok, ok := strings.CutPrefix(p, tunnelProtocolPrefix); ok && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		offered = append(offered, p)
	}
	claims, u, ok := s.bearer(w, r)
	if !ok {
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	port, err := strconv.Atoi(r.PathValue("port"))
	if err != nil || port < 1 || port > 65535 {
		writeError(w, http.StatusBadRequest, "INVALID_PAYLOAD", "the port must be 1-65535")
		return
	}
	ws, err := s.workspace(r.Context(), u.ID, r.PathValue("workspaceId"))
	if err != nil {
		e := workspaceError(r.PathValue("workspaceId"), err)
		writeError(w, http.StatusNotFound, e.Code, e.Message)
		return
	}
	p, ok := s.ports.Lookup(u.ID, ws.ID, port)
	if !ok {
		writeError(w, http.StatusNotFound, "PORT_NOT_FOUND", "Nothing in this workspace listens on that port")
		return
	}
	addr, _ := p.Loopback()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		writeError(w, http.StatusBadGateway, "PORT_UNREACHABLE", "the port did not accept the connection")
		return
	}
	// Answer with a protocol the client offered, or browsers fail the
	// handshake: websockify's "binary" when offered, else the token's.
	up := websocket.Upgrader{
		CheckOrigin:     func(*http.Request) bool { return true }, // the bearer token is the credential, not a cookie
		ReadBufferSize:  32 << 10,
		WriteBufferSize: 32 << 10,
		Subprotocols:    append([]string{"binary"}, offered...),
	}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		conn.Close()
		return
	}
	s.Log.Info("tunnel opened", "user", u.Name, "workspace", ws.Name, "port", port, "remote", clientIP(r))
	stop := make(chan struct{})
	defer close(stop)
	go s.endWithToken(strings.TrimSpace(token), claims.Subject, c, stop)
	pipeWebSocket(c, conn)
}

// endWithToken closes the tunnel once its token no longer verifies (sign-out,
// revocation, a deleted user, expiry), as the user's sockets are logged out.
func (s *Server) endWithToken(token, userID string, c *websocket.Conn, stop <-chan struct{}) {
	t := time.NewTicker(s.Socket.RevocationInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.ctx.Done():
			c.Close()
			return
		case <-t.C:
			if claims, _, err := s.Auth.Verify(s.ctx, token); err != nil || claims.Subject != userID {
				if s.ctx.Err() == nil {
					c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "signed out"), time.Now().Add(time.Second))
				}
				c.Close()
				return
			}
		}
	}
}

// pipeWebSocket copies binary messages to conn and conn's bytes to binary
// messages until either side ends.
func pipeWebSocket(c *websocket.Conn, conn net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if werr := c.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				c.SetReadDeadline(time.Now().Add(5 * time.Second)) // for the client's close
				break
			}
		}
	}()
	for {
		typ, rd, err := c.NextReader()
		if err != nil {
			break
		}
		if typ != websocket.BinaryMessage {
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "binary frames only"), time.Now().Add(time.Second))
			break
		}
		if _, err := io.Copy(conn, rd); err != nil {
			break
		}
	}
	conn.Close()
	<-done
	c.Close()
}
