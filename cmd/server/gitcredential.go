package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/gitcred"
	"github.com/codeterm/codeterm/webbridge"
	"github.com/codeterm/codeterm/workspaces"
)

// credentialSocket is where the server answers `codeterm git-credential`,
// inside the 0700 data directory.
func credentialSocket(dataDir string) string {
	return filepath.Join(dataDir, "git-credential.sock")
}

// gitCredential is `codeterm git-credential [--socket PATH] ACTION`, run by
// git in a workspace cloned from GitHub (its .git/config names it as the
// credential helper for GitHub's host).
func (c *command) gitCredential(ctx context.Context, args []string) error {
	f := newFlags("git-credential")
	socket := f.String("socket", "", "the server's credential socket (default: in the data directory)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *socket == "" {
		cfg, err := config.Load(f.configFile(), c.environ, f.overrides())
		if err != nil {
			return err
		}
		*socket = credentialSocket(cfg.DataDir)
	}
	return gitcred.Helper(pos[0], *socket, c.environ, os.Stdin, c.stdout, c.stderr)
}

// githubIntegration builds the bridge's GitHub part: nil when
// github.client_id is empty, which leaves GitHub off.
func githubIntegration(cfg *config.Config, a *auth.Service) (*webbridge.GitHub, error) {
	if cfg.GitHub.ClientID == "" {
		return nil, nil
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	api, err := workspaces.NewGitHubClient(cfg.GitHub.APIURL, hc)
	if err != nil {
		return nil, err
	}
	repos := &workspaces.GitHub{Client: api, WebURL: cfg.GitHub.WebURL}
	if _, _, err := repos.GitOrigin(); err != nil {
		return nil, err
	}
	gh := &webbridge.GitHub{
		OAuth: &auth.GitHubOAuth{
			Auth: a, ClientID: cfg.GitHub.ClientID, ClientSecret: cfg.GitHub.ClientSecret,
			WebURL: cfg.GitHub.WebURL, API: api, AllowedUsers: cfg.GitHub.AllowedUsers, HTTPClient: hc,
		},
		Repos:            repos,
		CredentialSocket: credentialSocket(cfg.DataDir),
	}
	if exe, err := os.Executable(); err == nil {
		gh.CredentialHelper = "!" + shellQuote(exe) + " git-credential --socket " + shellQuote(gh.CredentialSocket)
	}
	return gh, nil
}

// gitCredentialFunc gives sessions their credential id when GitHub is on.
func gitCredentialFunc(cfg *config.Config, a *auth.Service) func(userID, sessionID string) string {
	if cfg.GitHub.ClientID == "" {
		return nil
	}
	return a.GitCredential
}

// shellQuote quotes s for sh, which runs a "!"-helper.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
