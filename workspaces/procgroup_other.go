//go:build !unix

package workspaces

import "os/exec"

// setProcessGroup leaves cmd as it is: without process groups a cancel
// kills git itself (exec.CommandContext's default).
func setProcessGroup(cmd *exec.Cmd) {}
