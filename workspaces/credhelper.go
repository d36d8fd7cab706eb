package workspaces

import (
	"fmt"
	"net/url"

	git "github.com/go-git/go-git/v5"
)

// setCredentialHelper makes helper the only git credential helper of the
// repository in dir for remoteURL's origin. The empty value first resets the
// helpers of the user's global and system configuration for that origin:
// git hands a credential that worked to every helper's "store", and a
// global "credential.helper=store" would write the token in plain text to
// ~/.git-credentials.
func setCredentialHelper(dir, remoteURL, helper string) error {
	u, err := url.Parse(remoteURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("credential helper: remote %s has no host", RedactURL(remoteURL))
	}
	origin := u.Scheme + "://" + u.Host
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return fmt.Errorf("credential helper: %w", err)
	}
	cfg, err := repo.Config()
	if err != nil {
		return fmt.Errorf("credential helper: %w", err)
	}
	sub := cfg.Raw.Section("credential").Subsection(origin)
	sub.RemoveOption("helper")
	sub.AddOption("helper", "")
	sub.AddOption("helper", helper)
	if err := repo.SetConfig(cfg); err != nil {
		return fmt.Errorf("credential helper: write .git/config: %w", err)
	}
	return nil
}
