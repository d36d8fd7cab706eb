package workspaces

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v84/github"
)

// GitHub errors, for callers to map with errors.Is.
var (
	// ErrGitHubUnauthorized: GitHub refused the user's token (revoked or
	// expired); the user must sign in with GitHub again.
	ErrGitHubUnauthorized = errors.New("GitHub refused the token")
	// ErrRepositoryNotFound: no such repository, or not visible to the user.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrGitHubAPI: any other failure talking to GitHub.
	ErrGitHubAPI = errors.New("GitHub API request failed")
)

// NewGitHubClient returns a go-github client for apiURL, GitHub's REST root
// (https://api.github.com/) or a GitHub Enterprise server's
// (https://ghe.example.com/api/v3/), taken as given. It carries no
// credentials: each request adds its user's token with WithAuthToken, so one
// client serves every user and no token outlives its request.
func NewGitHubClient(apiURL string, hc *http.Client) (*github.Client, error) {
	base, err := url.Parse(apiURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("github api url %q: want an http(s) URL", apiURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := github.NewClient(hc)
	c.BaseURL = base
	return c, nil
}

// GitHub lists a user's repositories and resolves the one to clone.
type GitHub struct {
	// Client is from NewGitHubClient.
	Client *github.Client
	// WebURL is GitHub's web root, where repositories are cloned from. A
	// clone URL on any other scheme or host is refused, so a user's token is
	// never sent anywhere but GitHub.
	WebURL string
}

// Repository is a repository as the browser gets it, with GitHub's field names.
type Repository struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	FullName      string    `json:"full_name"`
	Private       bool      `json:"private"`
	CloneURL      string    `json:"clone_url"`
	DefaultBranch string    `json:"default_branch"`
	UpdatedAt     time.Time `json:"updated_at"`
	Description   string    `json:"description"`
	HTMLURL       string    `json:"html_url"`
}

// ListOptions select a page of repositories.
type ListOptions struct {
	Page    int    // 1-based; default 1
	PerPage int    // 1-100; default 30
	Sort    string // created, updated, pushed or full_name; default updated
}

// RepositoryPage is one page of the user's repositories.
type RepositoryPage struct {
	Repositories []Repository `json:"repositories"`
	TotalCount   int          `json:"total_count"`
	Page         int          `json:"page"`
	HasNext      bool         `json:"has_next"`
}

// ErrInvalidListOptions: a page, page size or sort GitHub does not offer.
var ErrInvalidListOptions = errors.New("invalid repository list options")

func (o *ListOptions) normalize() error {
	if o.Page == 0 {
		o.Page = 1
	}
	if o.PerPage == 0 {
		o.PerPage = 30
	}
	if o.Sort == "" {
		o.Sort = "updated"
	}
	switch {
	case o.Page < 1 || o.Page > 100000:
		return fmt.Errorf("%w: page %d", ErrInvalidListOptions, o.Page)
	case o.PerPage < 1 || o.PerPage > 100:
		return fmt.Errorf("%w: per_page %d (1-100)", ErrInvalidListOptions, o.PerPage)
	}
	switch o.Sort {
	case "created", "updated", "pushed", "full_name":
		return nil
	}
	return fmt.Errorf("%w: sort %q (created, updated, pushed or full_name)", ErrInvalidListOptions, o.Sort)
}

// Repositories returns a page of the repositories the token's user can
// access (GET /user/repos). GitHub sends no total for this list, so
// TotalCount is exact on the last page and otherwise comes from a one-item
// page's Link rel="last", whose page number is then the count.
func (g *GitHub) Repositories(ctx context.Context, token string, o ListOptions) (*RepositoryPage, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	c := g.Client.WithAuthToken(token)
	list := func(page, perPage int) ([]*github.Repository, *github.Response, error) {
		repos, resp, err := c.Repositories.ListByAuthenticatedUser(ctx, &github.RepositoryListByAuthenticatedUserOptions{
			Sort: o.Sort, ListOptions: github.ListOptions{Page: page, PerPage: perPage},
		})
		return repos, resp, apiError("list repositories", err)
	}
	repos, resp, err := list(o.Page, o.PerPage)
	if err != nil {
		return nil, err
	}
	out := &RepositoryPage{Repositories: make([]Repository, 0, len(repos)), Page: o.Page, HasNext: resp.NextPage != 0}
	for _, r := range repos {
		out.Repositories = append(out.Repositories, toRepository(r))
	}
	switch {
	case !out.HasNext && (len(repos) > 0 || o.Page == 1):
		out.TotalCount = (o.Page-1)*o.PerPage + len(repos)
	case resp.LastPage != 0 && o.PerPage == 1:
		out.TotalCount = resp.LastPage
	default:
		one, cresp, err := list(1, 1)
		if err != nil {
			return nil, err
		}
		out.TotalCount = len(one)
		if cresp.LastPage != 0 {
			out.TotalCount = cresp.LastPage
		}
	}
	return out, nil
}

// Repository returns one repository the token's user can access, by id,
// after checking its clone URL is on WebURL's host.
func (g *GitHub) Repository(ctx context.Context, token string, id int64) (*Repository, error) {
	if id <= 0 {
		return nil, fmt.Errorf("repository %d: %w", id, ErrRepositoryNotFound)
	}
	r, _, err := g.Client.WithAuthToken(token).Repositories.GetByID(ctx, id)
	if err != nil {
		return nil, apiError(fmt.Sprintf("repository %d", id), err)
	}
	repo := toRepository(r)
	if err := g.checkCloneURL(repo.CloneURL); err != nil {
		return nil, fmt.Errorf("repository %d: %w", id, err)
	}
	return &repo, nil
}

// GitOrigin is the scheme and host (with port, if any) that git talks to
// for GitHub, as git's credential protocol names them: ("https", "github.com").
func (g *GitHub) GitOrigin() (protocol, host string, err error) {
	u, err := url.Parse(g.WebURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", fmt.Errorf("github web url %q: want an http(s) URL", g.WebURL)
	}
	return u.Scheme, u.Host, nil
}

// Hosts reports whether raw is an http(s) URL on GitHub's host (the one
// the user's token is for), with no credentials of its own.
func (g *GitHub) Hosts(raw string) bool { return g.checkCloneURL(raw) == nil }

func (g *GitHub) checkCloneURL(raw string) error {
	proto, host, err := g.GitOrigin()
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != proto || !strings.EqualFold(u.Host, host) || u.User != nil {
		return fmt.Errorf("%w: clone URL %s is not on %s://%s", ErrInvalidURL, RedactURL(raw), proto, host)
	}
	return nil
}

func toRepository(r *github.Repository) Repository {
	return Repository{
		ID:            r.GetID(),
		Name:          r.GetName(),
		FullName:      r.GetFullName(),
		Private:       r.GetPrivate(),
		CloneURL:      r.GetCloneURL(),
		DefaultBranch: r.GetDefaultBranch(),
		UpdatedAt:     r.GetUpdatedAt().Time,
		Description:   r.GetDescription(),
		HTMLURL:       r.GetHTMLURL(),
	}
}

// apiError classifies a go-github error. Its text names the request URL and
// GitHub's message, neither of which holds the token (it travels in a header).
func apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch er.Response.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: %w: %s", what, ErrGitHubUnauthorized, er.Message)
		case http.StatusNotFound:
			return fmt.Errorf("%s: %w", what, ErrRepositoryNotFound)
		}
		return fmt.Errorf("%s: %w: %s %s", what, ErrGitHubAPI, er.Response.Status, er.Message)
	}
	return fmt.Errorf("%s: %w: %w", what, ErrGitHubAPI, err)
}
