package workspaces_test

import (
	"context"
	"fmt"
	"log"

	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// How a front-end drives a Manager: create with progress, report errors by
// code, and relay file events while someone is looking.
func Example() {
	ctx := context.Background()
	st, err := store.Open(ctx, "/var/lib/codeterm/codeterm.db")
	if err != nil {
		log.Fatal(err)
	}
	m, err := workspaces.New(ctx, workspaces.Config{Root: "/var/lib/codeterm/workspaces", Store: st})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	user := &store.User{ID: "u1", Name: "alice"}

	// create-workspace; a cancel-workspace event would call
	// m.Cancel(user.ID, "hello").
	ws, err := m.Create(ctx, user, workspaces.CreateOptions{
		Name:    "hello",
		RepoURL: "https://github.com/octocat/Hello-World.git",
		Progress: func(p workspaces.Progress) {
			fmt.Printf("%s %3d%% %s\n", p.Step, p.Percent, p.Message) // workspace-progress
		},
	})
	if err != nil {
		fmt.Println(workspaces.Code(err), err) // workspace-error {code, details}
		return
	}

	// join-workspace ... leave-workspace
	sub, err := m.Watch(ctx, user.ID, ws.ID)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for ev := range sub.Events() {
			fmt.Println(ev.Type, ev.Path) // file-changed
		}
	}()
	defer sub.Close()

	res, err := m.Sync(ctx, user.ID, ws.ID, workspaces.OpPull, workspaces.Auth{})
	fmt.Println(res, workspaces.Code(err)) // workspace-synced or workspace-error
	status, _ := m.Status(ctx, user.ID, ws.ID)
	fmt.Println(status) // workspace-status .git
}
