// Command codeterm is the codeterm server and its administration tool.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `codeterm: an SSH-first workspace server.

Usage:
  codeterm serve [--ssh-addr HOST:PORT] [--http-addr HOST:PORT]
  codeterm reload                 (the running server upgrades in place, as on SIGHUP)
  codeterm user add NAME [--key FILE] [--os-user ACCOUNT]
  codeterm user key add NAME FILE
  codeterm user key rm NAME FINGERPRINT
  codeterm user list
  codeterm user rm NAME
  codeterm user revoke NAME
  codeterm workspace create NAME --owner USER [--repo URL] [--branch B]
  codeterm workspace list [--owner USER]
  codeterm workspace rm NAME --owner USER
  codeterm token NAME [--ttl DURATION]
  codeterm login-link NAME
  codeterm config-ssh [NAME] [--host HOST] [--prefix TEXT]
  codeterm git-credential [--socket PATH] get|store|erase   (git's credential helper; set up by clone-workspace)
  codeterm attach WORKSPACE[/SESSION]   (inside a workspace login, e.g. mosh: attach this terminal to the shared session)
  codeterm backup FILE        (database, host key and secrets, while the server runs)
  codeterm restore FILE       (into --data; refused while a server runs on it)
  codeterm doctor              (checks the set-up: one line per check, with a fix)
  codeterm share SESSION USER --role viewer|editor [--ttl DURATION]
  codeterm unshare SESSION USER
  codeterm recordings list
  codeterm recordings export SESSION [FILE]   (asciicast v2; FILE "-" or none: stdout)
  codeterm version

Every sub-command takes --data DIR and --config FILE.
`

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := &command{stdout: stdout, stderr: stderr, environ: os.Environ()}
	err := cmd.dispatch(ctx, args)
	if err == nil {
		return 0
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "codeterm: %v\n\n%s", err, usage)
		return 2
	}
	fmt.Fprintf(stderr, "codeterm: %v\n", err)
	return 1
}
