package files

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// With OS accounts, what the browser creates belongs to the user's account.
func TestAccountOpenerOwnsNewEntries(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	dir := t.TempDir()
	acct := &isolation.Account{Name: "nobody", UID: 65534, GID: 65534}
	o := AccountOpener{Account: func(context.Context, *store.User) (*isolation.Account, error) { return acct, nil }}
	r, err := o.OpenRoot(context.Background(), &store.User{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := r.OpenFile("new.txt", os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := r.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.MkdirAll("a/b/c", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"new.txt", "d", "a", "a/b", "a/b/c"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != acct.UID || st.Gid != acct.GID {
			t.Errorf("%s belongs to %d:%d, want %d:%d", p, st.Uid, st.Gid, acct.UID, acct.GID)
		}
	}
}
