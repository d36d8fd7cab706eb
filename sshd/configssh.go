package sshd

import (
	"fmt"
	"io"
	"strings"

	"github.com/codeterm/codeterm/store"
)

// ConfigEntry describes one ~/.ssh/config host for a workspace.
type ConfigEntry struct {
	Alias     string // Host line: what `ssh ALIAS` and VS Code's host list show
	HostName  string
	Port      string
	User      string // user+workspace, so the server behaves like OpenSSH rooted there
	HostAlias string // HostKeyAlias: one known_hosts entry for every workspace
}

// ConfigEntries returns an entry per workspace of u. prefix (may be empty)
// is put before each workspace name in the alias.
func ConfigEntries(u *store.User, list []*store.Workspace, host, port, prefix string) []ConfigEntry {
	out := make([]ConfigEntry, 0, len(list))
	for _, ws := range list {
		out = append(out, ConfigEntry{
			Alias:     prefix + ws.Name,
			HostName:  host,
			Port:      port,
			User:      u.Name + "+" + ws.Name,
			HostAlias: "codeterm-" + host + "-" + port,
		})
	}
	return out
}

// WriteConfig writes entries in ssh_config format.
func WriteConfig(w io.Writer, entries []ConfigEntry) error {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "Host %s\n  HostName %s\n  Port %s\n  User %s\n  HostKeyAlias %s\n\n", e.Alias, e.HostName, e.Port, e.User, e.HostAlias)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
