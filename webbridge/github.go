package webbridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/gitcred"
	"github.com/codeterm/codeterm/webbridge/socketio"
	"github.com/codeterm/codeterm/workspaces"
)

// GitHub error codes besides CodeGitHubNotConfigured.
const (
	// CodeGitHubAuthRequired: the user has no usable GitHub token; the page
	// sends them through /api/auth/github.
	CodeGitHubAuthRequired = "GITHUB_AUTH_REQUIRED"
	CodeRepositoryNotFound = "REPOSITORY_NOT_FOUND"
	CodeGitHubAPIError     = "GITHUB_API_ERROR"
)

// GitHub turns on the GitHub integration. Leave Server.GitHub nil when
// github.client_id is empty: the events then answer GITHUB_NOT_CONFIGURED and
// the OAuth routes 404.
type GitHub struct {
	OAuth *auth.GitHubOAuth
	Repos *workspaces.GitHub
	// CredentialSocket is the unix socket `codeterm git-credential` asks
	// for a session's token; "" serves none.
	CredentialSocket string
	// CredentialHelper is the credential.helper value written into
	// workspaces cloned from GitHub; "" writes none.
	CredentialHelper string
}

func githubNotConfigured() *wireError {
	return &wireError{Code: CodeGitHubNotConfigured, Message: "GitHub integration is not configured on this server",
		Details: "set github.client_id and github.client_secret in the server's configuration"}
}

// githubFailure maps a GitHub error to the wire; internal ones are logged.
func (c *client) githubFailure(op string, err error) *wireError {
	switch {
	case errors.Is(err, auth.ErrNoGitHubToken):
		return &wireError{Code: CodeGitHubAuthRequired, Message: "Sign in with GitHub to use your repositories"}
	case errors.Is(err, workspaces.ErrGitHubUnauthorized):
		// The token was revoked or expired: forget it so the next attempt
		// says "sign in" at once instead of asking GitHub again.
		if ferr := c.srv.Auth.ForgetGitHubToken(c.srv.ctx, c.user.ID); ferr != nil {
			c.log.Warn("forget github token", "err", ferr)
		}
		return &wireError{Code: CodeGitHubAuthRequired, Message: "GitHub no longer accepts your sign-in; sign in with GitHub again"}
	case errors.Is(err, workspaces.ErrRepositoryNotFound):
		return &wireError{Code: CodeRepositoryNotFound, Message: "Repository not found"}
	case errors.Is(err, workspaces.ErrInvalidListOptions):
		return &wireError{Code: CodeInvalidPayload, Message: "invalid payload: " + err.Error()}
	case errors.Is(err, workspaces.ErrGitHubAPI):
		c.log.Warn("github api", "op", op, "err", err)
		return &wireError{Code: CodeGitHubAPIError, Message: "GitHub could not be reached or refused the request"}
	case errors.Is(err, workspaces.ErrInvalidURL):
		c.log.Warn("github repository refused", "op", op, "err", err)
		return &wireError{Code: "INVALID_URL", Message: workspaceMessages["INVALID_URL"], Details: err.Error()}
	}
	c.log.Error("github", "op", op, "err", err)
	return internalError()
}

// get-repositories {page, per_page, sort} → repositories-loaded
func (c *client) getRepositories(m *socketio.Message, r *reply) {
	var p struct {
		Page    int    `json:"page"`
		PerPage int    `json:"per_page"`
		Sort    string `json:"sort"`
	}
	if m.Len() > 0 { // every field is optional, the object too
		if e := decodePayload(m, &p); e != nil {
			r.fail(e)
			return
		}
	}
	gh := c.srv.GitHub
	if gh == nil {
		r.fail(githubNotConfigured())
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		defer cancel()
		token, err := c.srv.Auth.GitHubToken(ctx, c.user.ID)
		if err != nil {
			r.fail(c.githubFailure("token", err))
			return
		}
		page, err := gh.Repos.Repositories(ctx, token, workspaces.ListOptions{Page: p.Page, PerPage: p.PerPage, Sort: p.Sort})
		if err != nil {
			r.fail(c.githubFailure("list repositories", err))
			return
		}
		c.emit("repositories-loaded", page)
		r.ok(map[string]any{"repositories": page.Repositories, "total_count": page.TotalCount, "page": page.Page, "has_next": page.HasNext})
	})
}

// clone-workspace {repositoryId, name?, branch?}: clones one of the user's
// GitHub repositories with their token, in create-workspace's flow.
func (c *client) cloneWorkspace(m *socketio.Message, r *reply) {
	var p struct {
		RepositoryID json.Number `json:"repositoryId"`
		Name         string      `json:"name"`
		Branch       string      `json:"branch"`
	}
	r.operation = "clone"
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	id, err := p.RepositoryID.Int64()
	if err != nil || id <= 0 {
		r.fail(invalidField("repositoryId", "repositoryId must be a positive number"))
		return
	}
	gh := c.srv.GitHub
	if gh == nil {
		r.fail(githubNotConfigured())
		return
	}
	if c.srv.Workspaces == nil {
		r.fail(unavailable("Workspace management"))
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 30*time.Second)
		token, err := c.srv.Auth.GitHubToken(ctx, c.user.ID)
		var repo *workspaces.Repository
		if err == nil {
			repo, err = gh.Repos.Repository(ctx, token, id)
		}
		cancel()
		if err != nil {
			r.fail(c.githubFailure("clone", err))
			return
		}
		name := p.Name
		if name == "" {
			name = defaultWorkspaceName(repo.Name)
		}
		c.create(r, workspaces.CreateOptions{
			Name: name, RepoURL: repo.CloneURL, Branch: p.Branch,
			Auth:             workspaces.Auth{Token: token},
			CredentialHelper: gh.CredentialHelper,
		})
	})
}

// defaultWorkspaceName turns a repository name into a workspace name:
// GitHub allows a leading '.' or '_' (".github"), workspace names do not.
func defaultWorkspaceName(repo string) string {
	return strings.TrimLeft(repo, "._-")
}

// repository-selected {repositoryId, action}: recorded in the log; the page
// then sends clone-workspace if the user goes on.
func (c *client) repositorySelected(m *socketio.Message, r *reply) {
	var p struct {
		RepositoryID json.Number `json:"repositoryId"`
		Action       string      `json:"action"`
	}
	if e := decodePayload(m, &p); e != nil {
		r.fail(e)
		return
	}
	id, err := p.RepositoryID.Int64()
	if err != nil || id <= 0 {
		r.fail(invalidField("repositoryId", "repositoryId must be a positive number"))
		return
	}
	switch p.Action {
	case "create-workspace", "view-details", "":
	default:
		r.fail(invalidField("action", "action must be create-workspace or view-details"))
		return
	}
	c.log.Info("repository selected", "repository", id, "action", p.Action)
	r.ok(map[string]any{"repositoryId": id, "action": p.Action})
}

// gitAuth is the token for a sync of one of the user's workspaces whose
// remote is on GitHub's host; nothing for any other remote, so the token is
// never sent elsewhere.
func (c *client) gitAuth(workspaceID string) workspaces.Auth {
	gh := c.srv.GitHub
	if gh == nil {
		return workspaces.Auth{}
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, 10*time.Second)
	defer cancel()
	ws, err := c.srv.workspace(ctx, c.user.ID, workspaceID)
	if err != nil {
		return workspaces.Auth{} // Sync reports the missing workspace
	}
	proto, host, err := gh.Repos.GitOrigin()
	u, perr := url.Parse(ws.RepoURL)
	if err != nil || perr != nil || u.Scheme != proto || !strings.EqualFold(u.Host, host) {
		return workspaces.Auth{}
	}
	token, err := c.srv.Auth.GitHubToken(ctx, c.user.ID)
	if err != nil {
		return workspaces.Auth{}
	}
	return workspaces.Auth{Token: token}
}

// startGitCredentials serves the credential socket when configured. A
// failure only disables the helper; the rest of the server runs on.
func (s *Server) startGitCredentials() {
	if s.GitHub == nil || s.GitHub.CredentialSocket == "" {
		return
	}
	cs := &gitcred.Server{Auth: s.Auth, Sessions: s.Sessions, Accounts: s.Accounts, Origin: s.GitHub.Repos.GitOrigin, Log: s.Log}
	ln, err := cs.Listen(s.GitHub.CredentialSocket)
	if err != nil {
		s.Log.Error("git credential socket: helper disabled", "err", err)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		cs.Serve(s.ctx, ln)
	}()
}
