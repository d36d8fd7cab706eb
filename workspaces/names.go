package workspaces

import (
	"fmt"
	"slices"
)

// ReservedNames are the commands of `ssh host COMMAND`, which the SSH
// front-end takes before workspace names.
var ReservedNames = []string{"login", "help"}

// MaxNameLen is the longest workspace name accepted.
const MaxNameLen = 64

// ValidateName reports whether name can be used as a workspace name. A name
// becomes a directory under the user's root and an argument on the ssh
// command line (`ssh host NAME`), so it is kept to a portable, shell-safe
// alphabet: 1-64 characters of letters, digits, '.', '_' and '-', starting
// with a letter or digit, and never containing "..".
//
// The words `ssh host WORD` takes as commands (ReservedNames) are refused:
// a workspace so named could only be reached as user+NAME@host.
//
// The error wraps ErrInvalidName and says what is allowed.
func ValidateName(name string) error {
	const allowed = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
	switch {
	case name == "":
		return fmt.Errorf("%w: name is empty; %s", ErrInvalidName, allowed)
	case slices.Contains(ReservedNames, name):
		return fmt.Errorf("%w: %q is a command of `ssh host %s`; choose another name", ErrInvalidName, name, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name is %d characters long, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is reserved; %s", ErrInvalidName, name, allowed)
	case !isAlnum(name[0]):
		return fmt.Errorf("%w: %q must start with a letter or digit; %s", ErrInvalidName, name, allowed)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAlnum(c) || c == '.' || c == '_' || c == '-' {
			if c == '.' && i+1 < len(name) && name[i+1] == '.' {
				return fmt.Errorf("%w: %q contains \"..\"; %s", ErrInvalidName, name, allowed)
			}
			continue
		}
		what := fmt.Sprintf("%q", string(rune(c)))
		if c >= 0x80 {
			what = "non-ASCII characters"
		}
		return fmt.Errorf("%w: %q contains %s; %s", ErrInvalidName, name, what, allowed)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
