package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIsolationPorts: in accounts mode alice's dev server runs as her OS
// account; the server (root) still finds it, previews it for her, and
// answers bob as if it did not exist.
func TestIsolationPorts(t *testing.T) {
	e := accountsEnv(t)
	alice := e.addAccountUser("alice")
	e.addAccountUser("bob")
	e.ok("workspace", "create", "ws", "--owner", "alice")
	e.ok("workspace", "create", "ws", "--owner", "bob")
	srv := serveLogged(t, e)
	aliceTok := strings.TrimSpace(e.ok("token", "alice"))
	bobTok := strings.TrimSpace(e.ok("token", "bob"))

	// The dev server, typed into alice's shared terminal over SSH.
	args := append(srv.sshArgs(alice), "-tt", "-p", srv.port, alice.name+"@127.0.0.1", "ws")
	ssh := exec.Command("ssh", args...)
	stdin, _ := ssh.StdinPipe()
	stdout, _ := ssh.StdoutPipe()
	if err := ssh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssh.Process.Kill(); ssh.Wait() })
	fmt.Fprint(stdin, "echo iso-preview-$((6*7)) > hello.txt; exec python3 -m http.server 0 --bind 127.0.0.1\n")
	portc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`Serving HTTP on 127\.0\.0\.1 port (\d+)`).FindStringSubmatch(sc.Text()); m != nil {
				portc <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var port string
	select {
	case port = <-portc:
	case <-time.After(30 * time.Second):
		t.Fatal("python3 -m http.server never started in alice's session")
	}

	wsID := func(tok string) string {
		req, _ := http.NewRequest("GET", srv.web+"/api/workspaces", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var l struct{ Workspaces []struct{ ID string } }
		json.NewDecoder(res.Body).Decode(&l)
		if len(l.Workspaces) != 1 {
			t.Fatalf("workspaces: %+v", l)
		}
		return l.Workspaces[0].ID
	}
	aliceWS, bobWS := wsID(aliceTok), wsID(bobTok)
	preview := func(tok, ws string) (int, string) {
		req, _ := http.NewRequest("POST", srv.web+"/api/previews", strings.NewReader(`{"workspaceId":"`+ws+`","port":`+port+`}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r struct{ URL string }
		json.NewDecoder(res.Body).Decode(&r)
		return res.StatusCode, r.URL
	}
	// Found within a scan or two of the server starting (no one watches,
	// so POST /api/previews scans itself).
	var code int
	var ticket string
	deadline := time.Now().Add(15 * time.Second)
	for code, ticket = preview(aliceTok, aliceWS); code != 200; code, ticket = preview(aliceTok, aliceWS) {
		if time.Now().After(deadline) {
			t.Fatalf("alice's preview of port %s: %d", port, code)
		}
		time.Sleep(100 * time.Millisecond) // discovery reads /proc: nothing to wait on
	}
	if c, _ := preview(bobTok, aliceWS); c != http.StatusNotFound {
		t.Errorf("bob's preview of alice's workspace: %d", c)
	}
	if c, _ := preview(bobTok, bobWS); c != http.StatusNotFound {
		t.Errorf("bob's preview of alice's port in his workspace: %d", c)
	}

	// Through the preview with the cookie, sent to the server's address
	// with the preview's Host.
	u, _ := url.Parse(ticket)
	base, _ := url.Parse(srv.web)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, cookie string) *http.Response {
		req, _ := http.NewRequest("GET", "http://"+base.Host+path, nil)
		req.Host = u.Host
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := get(u.RequestURI(), "")
	res.Body.Close()
	cookie, _, _ := strings.Cut(res.Header.Get("Set-Cookie"), ";")
	if res.StatusCode != http.StatusSeeOther || cookie == "" {
		t.Fatalf("ticket exchange: %s %v", res.Status, res.Header)
	}
	res = get("/hello.txt", cookie)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != "iso-preview-42" {
		t.Fatalf("through the preview: %s %q", res.Status, body)
	}
}
