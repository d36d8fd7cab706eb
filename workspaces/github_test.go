package workspaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeRepoAPI serves GET /user/repos and GET /repositories/{id} as GitHub
// does, with a Link header for pagination, to one token.
func fakeRepoAPI(t *testing.T, token string, n int, cloneBase string) *httptest.Server {
	t.Helper()
	type repo struct {
		ID            int64  `json:"id"`
		Name          string `json:"name"`
		FullName      string `json:"full_name"`
		Private       bool   `json:"private"`
		CloneURL      string `json:"clone_url"`
		DefaultBranch string `json:"default_branch"`
		UpdatedAt     string `json:"updated_at"`
		Description   string `json:"description"`
		HTMLURL       string `json:"html_url"`
	}
	var repos []repo
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("repo%02d", i)
		repos = append(repos, repo{ID: int64(1000 + i), Name: name, FullName: "octo/" + name, Private: i%2 == 0,
			CloneURL: cloneBase + "/octo/" + name + ".git", DefaultBranch: "main",
			UpdatedAt:   time.Date(2024, 1, i, 0, 0, 0, 0, time.UTC).Format(time.RFC3339),
			Description: "repository " + name, HTMLURL: "https://github.example/octo/" + name})
	}
	mux := http.NewServeMux()
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /user/repos", authed(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, _ := strconv.Atoi(q.Get("page"))
		per, _ := strconv.Atoi(q.Get("per_page"))
		if page < 1 {
			page = 1
		}
		if per < 1 {
			per = 30
		}
		list := append([]repo(nil), repos...)
		if q.Get("sort") == "updated" {
			sort.Slice(list, func(i, j int) bool { return list[i].UpdatedAt > list[j].UpdatedAt })
		}
		last := (len(list) + per - 1) / per
		link := func(p int, rel string) string {
			u := *r.URL
			u.Scheme, u.Host = "http", r.Host
			v := u.Query()
			v.Set("page", strconv.Itoa(p))
			u.RawQuery = v.Encode()
			return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
		}
		var links []string
		if page > 1 {
			links = append(links, link(page-1, "prev"))
		}
		if page < last {
			links = append(links, link(page+1, "next"), link(last, "last"))
		}
		if page > 1 {
			links = append(links, link(1, "first"))
		}
		if len(links) > 0 {
			w.Header().Set("Link", strings.Join(links, ", "))
		}
		from, to := min((page-1)*per, len(list)), min(page*per, len(list))
		json.NewEncoder(w).Encode(list[from:to])
	}))
	mux.HandleFunc("GET /repositories/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		for _, rp := range repos {
			if strconv.FormatInt(rp.ID, 10) == r.PathValue("id") {
				json.NewEncoder(w).Encode(rp)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
	}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func newTestGitHub(t *testing.T, api *httptest.Server, web string) *GitHub {
	t.Helper()
	c, err := NewGitHubClient(api.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &GitHub{Client: c, WebURL: web}
}

func TestGitHubRepositories(t *testing.T) {
	const web = "https://github.example"
	api := fakeRepoAPI(t, "tok", 7, web)
	gh := newTestGitHub(t, api, web+"/")
	ctx := context.Background()

	p, err := gh.Repositories(ctx, "tok", ListOptions{Page: 1, PerPage: 3, Sort: "updated"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Repositories) != 3 || !p.HasNext || p.Page != 1 || p.TotalCount != 7 {
		t.Fatalf("page 1: %+v", p)
	}
	r := p.Repositories[0]
	if r.ID != 1007 || r.Name != "repo07" || r.FullName != "octo/repo07" || r.Private || r.CloneURL != web+"/octo/repo07.git" ||
		r.DefaultBranch != "main" || r.Description != "repository repo07" || r.HTMLURL == "" || r.UpdatedAt.Day() != 7 {
		t.Fatalf("repository fields: %+v", r)
	}
	b, _ := json.Marshal(r)
	for _, f := range []string{`"id":`, `"name":`, `"full_name":`, `"private":`, `"clone_url":`, `"default_branch":`, `"updated_at":`, `"description":`, `"html_url":`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("JSON %s lacks %s", b, f)
		}
	}
	p, err = gh.Repositories(ctx, "tok", ListOptions{Page: 3, PerPage: 3})
	if err != nil || len(p.Repositories) != 1 || p.HasNext || p.TotalCount != 7 {
		t.Fatalf("last page: %+v %v", p, err)
	}
	p, err = gh.Repositories(ctx, "tok", ListOptions{Page: 9, PerPage: 3})
	if err != nil || len(p.Repositories) != 0 || p.HasNext || p.TotalCount != 7 {
		t.Fatalf("past the end: %+v %v", p, err)
	}

	if _, err := gh.Repositories(ctx, "revoked", ListOptions{}); !errors.Is(err, ErrGitHubUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
	if strings.Contains(fmt.Sprint(gh.Repositories(ctx, "revoked", ListOptions{})), "revoked") {
		t.Fatal("error text contains the token")
	}
	for _, o := range []ListOptions{{PerPage: 101}, {Page: -1}, {Sort: "stars"}} {
		if _, err := gh.Repositories(ctx, "tok", o); !errors.Is(err, ErrInvalidListOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestGitHubRepositoryByID(t *testing.T) {
	const web = "https://github.example"
	api := fakeRepoAPI(t, "tok", 2, web)
	ctx := context.Background()
	gh := newTestGitHub(t, api, web)
	r, err := gh.Repository(ctx, "tok", 1002)
	if err != nil || r.CloneURL != web+"/octo/repo02.git" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := gh.Repository(ctx, "tok", 5); !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatalf("missing: %v", err)
	}
	// A clone URL off GitHub's host would carry the token elsewhere.
	other := newTestGitHub(t, api, "https://elsewhere.example")
	if _, err := other.Repository(ctx, "tok", 1002); !errors.Is(err, ErrInvalidURL) {
		t.Fatalf("foreign clone host: %v", err)
	}
	proto, host, err := gh.GitOrigin()
	if proto != "https" || host != "github.example" || err != nil {
		t.Fatalf("origin %s %s %v", proto, host, err)
	}
}
