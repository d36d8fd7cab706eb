package isolation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/codeterm/codeterm/store"
)

// Accounts maps codeterm users to OS accounts in accounts mode. Its methods
// are safe for concurrent use; a nil *Accounts maps nobody, so every process
// runs as the server's user.
type Accounts struct {
	store  *store.Store
	system *System
	cg     *cgroups

	mu sync.Mutex // one creation at a time
}

// NewAccounts returns the account mapping of a data dir, with limits for
// each user's processes.
func NewAccounts(st *store.Store, dataDir string, limits Limits, log *slog.Logger) (*Accounts, error) {
	sys, err := NewSystem(dataDir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Accounts{
		store:  st,
		system: sys,
		cg:     &cgroups{limits: limits, name: sys.CgroupName(), log: log},
	}, nil
}

// For returns the OS account u's processes run as, creating a system
// account (see System.Create) the first time a user without one needs it.
// It returns nil for a nil Accounts.
func (a *Accounts) For(ctx context.Context, u *store.User) (*Account, error) {
	if a == nil {
		return nil, nil
	}
	m, err := a.store.OSAccount(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return a.create(ctx, u)
	}
	if err != nil {
		return nil, err
	}
	acc, err := LookupAccount(m.OSUser)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", u.Name, err)
	}
	if err := checkUsable(acc); err != nil {
		return nil, err
	}
	acc.cg = a.cg.forUser(u.Name)
	return acc, nil
}

func (a *Accounts) create(ctx context.Context, u *store.User) (*Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, err := a.store.OSAccount(ctx, u.ID); err == nil { // created meanwhile
		acct, err := LookupAccount(m.OSUser)
		if err != nil {
			return nil, err
		}
		acct.cg = a.cg.forUser(u.Name)
		return acct, nil
	}
	acc, err := a.system.Create(ctx, u.Name)
	if err != nil {
		return nil, fmt.Errorf("os account for %s: %w", u.Name, err)
	}
	if err := a.store.SetOSAccount(ctx, &store.OSAccount{UserID: u.ID, OSUser: acc.Name, Created: true}); err != nil {
		return nil, err
	}
	acc.cg = a.cg.forUser(u.Name)
	return acc, nil
}

// Map makes u run as the existing OS account osName (user add --os-user).
// codeterm will never delete it.
func (a *Accounts) Map(ctx context.Context, u *store.User, osName string) (*Account, error) {
	acc, err := LookupAccount(osName)
	if err != nil {
		return nil, err
	}
	if err := checkUsable(acc); err != nil {
		return nil, err
	}
	if err := a.store.SetOSAccount(ctx, &store.OSAccount{UserID: u.ID, OSUser: osName}); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("os account %s is already another codeterm user's", osName)
		}
		return nil, err
	}
	return acc, nil
}

// checkUsable refuses accounts that would void the isolation: root and the
// server's own.
func checkUsable(acc *Account) error {
	if acc.UID == 0 || int(acc.UID) == os.Getuid() {
		return fmt.Errorf("os account %s (uid %d) is root or the server's own account: it would see every user's files", acc.Name, acc.UID)
	}
	return nil
}

// Remove deletes the OS account of u after ending its processes when
// codeterm created it, and forgets the mapping in any case. It returns the
// account's name and whether it was deleted.
func (a *Accounts) Remove(ctx context.Context, u *store.User) (osName string, deleted bool, err error) {
	if a == nil {
		return "", false, nil
	}
	m, err := a.store.OSAccount(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if m.Created {
		if err := a.system.Remove(ctx, m.OSUser); err != nil && !errors.Is(err, ErrNotOurs) {
			return m.OSUser, false, err
		} else if err == nil {
			deleted = true
		}
	}
	if cg := a.cg.forUser(u.Name); cg != nil {
		cg.remove()
	}
	return m.OSUser, deleted, a.store.DeleteOSAccount(ctx, u.ID)
}

// Mapping returns the OS account recorded for u, nil when none is.
func (a *Accounts) Mapping(ctx context.Context, u *store.User) (*store.OSAccount, error) {
	if a == nil {
		return nil, nil
	}
	m, err := a.store.OSAccount(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// ForUserID is For of the user with that id.
func (a *Accounts) ForUserID(ctx context.Context, userID string) (*Account, error) {
	if a == nil {
		return nil, nil
	}
	u, err := a.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	return a.For(ctx, u)
}
