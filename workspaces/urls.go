package workspaces

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Auth carries the credentials for one git network operation. Nothing in it
// is stored: the bridge passes it again for every clone or sync.
type Auth struct {
	// Token authenticates https remotes, sent as HTTP basic auth with user
	// "x-access-token" (what GitHub expects for OAuth and app tokens).
	Token string
	// SSH authenticates ssh:// and scp-like remotes (e.g. *gitssh.PublicKeys
	// with its HostKeyCallback set).
	SSH transport.AuthMethod
}

// remote is a repository URL that passed validation. clean is the only form
// that leaves this package: it is what is stored, logged and written to
// .git/config. user and password came from the URL and are used for the
// clone only.
type remote struct {
	clean    string
	ssh      bool
	user     string
	password string
	target   target // set by checkHost
}

// scpLike matches git's "[user@]host:path" form. The host must look like a
// host name (at least two characters, so a Windows drive letter is not a
// host) and the path may not start with ':' or '-' — "ext::sh -c ..." and
// option-looking paths are refused here rather than trusted to the transport.
var scpLike = regexp.MustCompile(`^(?:([A-Za-z0-9._~+-]+)@)?([A-Za-z0-9][A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([^:\-].*)$`)

const allowedURLs = "use an https://, http://, ssh:// or git@host:owner/repo.git URL"

// parseRemote validates a repository URL. Only network transports go-git
// speaks over http(s) and ssh are accepted: file://, bare local paths,
// ext::, git:// and every other scheme would let a user read the server's
// disk or run commands, so they are refused.
func parseRemote(raw string) (remote, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return remote{}, fmt.Errorf("%w: empty; %s", ErrInvalidURL, allowedURLs)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' {
			return remote{}, fmt.Errorf("%w: contains spaces or control characters; %s", ErrInvalidURL, allowedURLs)
		}
	}
	if strings.Contains(s, "::") && !strings.Contains(s, "://") {
		return remote{}, fmt.Errorf("%w: transport helpers (%s::) are not allowed; %s", ErrInvalidURL, strings.SplitN(s, "::", 2)[0], allowedURLs)
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return parseSchemeURL(s, strings.ToLower(s[:i]))
	}
	if m := scpLike.FindStringSubmatch(s); m != nil {
		r := remote{clean: s, ssh: true, user: m[1]}
		return r, nil
	}
	return remote{}, fmt.Errorf("%w: %q looks like a local path; %s", ErrInvalidURL, RedactURL(s), allowedURLs)
}

func parseSchemeURL(s, scheme string) (remote, error) {
	switch scheme {
	case "https", "http", "ssh":
	case "file":
		return remote{}, fmt.Errorf("%w: file:// URLs are not allowed; %s", ErrInvalidURL, allowedURLs)
	default:
		return remote{}, fmt.Errorf("%w: scheme %q is not allowed; %s", ErrInvalidURL, scheme, allowedURLs)
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse echoes its input, which may hold a password.
		return remote{}, fmt.Errorf("%w: cannot parse %q; %s", ErrInvalidURL, RedactURL(s), allowedURLs)
	}
	host := u.Hostname()
	if host == "" || strings.HasPrefix(host, "-") {
		return remote{}, fmt.Errorf("%w: %q has no valid host; %s", ErrInvalidURL, RedactURL(s), allowedURLs)
	}
	if strings.Trim(u.Path, "/") == "" {
		return remote{}, fmt.Errorf("%w: %q names no repository; %s", ErrInvalidURL, RedactURL(s), allowedURLs)
	}
	r := remote{ssh: scheme == "ssh"}
	if u.User != nil {
		r.user = u.User.Username()
		r.password, _ = u.User.Password()
	}
	u.Scheme = scheme
	u.Fragment, u.RawFragment = "", ""
	switch {
	case r.ssh && r.user != "":
		// An ssh user name is an address, not a secret: keep it so later
		// fetches reach the same account.
		u.User = url.User(r.user)
	default:
		// https://TOKEN@host and https://user:pass@host both carry secrets.
		u.User = nil
	}
	r.clean = u.String()
	return r, nil
}

// RedactURL returns raw with any password or token in it removed, for logs
// and error messages. It never fails: unparsable input is cut at the '@'.
func RedactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		if u, err := url.Parse(raw); err == nil {
			if u.User != nil {
				if strings.EqualFold(u.Scheme, "ssh") {
					u.User = url.User(u.User.Username())
				} else {
					u.User = nil
				}
			}
			return u.String()
		}
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return raw[:i+3] + "REDACTED@" + rest[at+1:]
		}
	}
	return raw
}

// authFor picks the credentials for r: the ones written in the URL win
// (the user typed them for this very repository), then Auth.
func (m *Manager) authFor(r remote, a Auth) (transport.AuthMethod, error) {
	if !r.ssh {
		switch {
		case r.user != "" || r.password != "":
			return &githttp.BasicAuth{Username: r.user, Password: r.password}, nil
		case a.Token != "":
			return &githttp.BasicAuth{Username: "x-access-token", Password: a.Token}, nil
		}
		return nil, nil
	}
	switch {
	case a.SSH != nil:
		return a.SSH, nil
	case r.password != "":
		return &gitssh.Password{User: r.user, Password: r.password}, nil
	case m.cfg.UseSSHAgent:
		return nil, nil // go-git's default: the process's ssh-agent and known_hosts
	}
	// Without this refusal go-git would quietly use the server operator's
	// ssh-agent on behalf of every user.
	return nil, fmt.Errorf("ssh remote %s needs an SSH key (Auth.SSH)", r.clean)
}
