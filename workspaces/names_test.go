package workspaces

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	good := []string{"a", "my-project", "Repo_2.0", "x.y-z_1", strings.Repeat("a", 64), "9lives"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", n, err)
		}
	}
	bad := []string{"", ".", "..", ".hidden", "-dash", "_under", "a/b", "a..b", "a b", "a\\b",
		strings.Repeat("a", 65), "café", "a\x00b", "../etc", "a:b", "a;rm"}
	for _, n := range bad {
		err := ValidateName(n)
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", n, err)
			continue
		}
		if Code(err) != "INVALID_NAME" {
			t.Errorf("Code = %q", Code(err))
		}
		if !strings.Contains(err.Error(), "letters") && !strings.Contains(err.Error(), "limit") {
			t.Errorf("error %q does not say what is allowed", err)
		}
	}
}

// Names that `ssh host NAME` would take as a command are refused: such a
// workspace could not be reached as `ssh host NAME`.
func TestReservedNamesRefused(t *testing.T) {
	for _, n := range []string{"login", "help"} {
		if err := ValidateName(n); !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), "command") {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName saying it is a command", n, err)
		}
	}
	for _, n := range []string{"Login", "login2", "helpdesk"} {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", n, err)
		}
	}
}
