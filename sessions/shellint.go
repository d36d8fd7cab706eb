package sessions

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The shell integration scripts. They are written once per manager to a
// directory of their own that every account can read (they hold nothing
// secret, and shells may run as other OS users), and loaded without
// touching the user's own start-up files:
//   - bash: --rcfile (which does the login shell's reading itself first);
//   - zsh: ZDOTDIR pointing at files that read the user's own and come back;
//   - fish: --init-command, which runs after the user's configuration.
//
//go:embed shellint
var shellintFiles embed.FS

// shellintNames maps a file of the embedded directory to its name on disk
// (zsh reads dot files from ZDOTDIR).
var shellintNames = map[string]string{
	"bashrc": "bashrc", "integration.zsh": "integration.zsh", "integration.fish": "integration.fish",
	"zshenv": ".zshenv", "zprofile": ".zprofile", "zshrc": ".zshrc", "zlogin": ".zlogin",
}

// shellintDir writes the scripts on first use and returns their directory.
func (m *Manager) shellintDir() (string, error) {
	m.shellintOnce.Do(func() {
		dir, err := os.MkdirTemp("", "codeterm-shell-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		for src, dst := range shellintNames {
			if err != nil {
				break
			}
			var b []byte
			if b, err = shellintFiles.ReadFile("shellint/" + src); err == nil {
				err = os.WriteFile(filepath.Join(dir, dst), b, 0o644)
			}
		}
		if err != nil {
			m.shellintErr = fmt.Errorf("shell integration scripts: %w", err)
			if dir != "" {
				os.RemoveAll(dir)
			}
			return
		}
		m.shellintPath = dir
	})
	return m.shellintPath, m.shellintErr
}

// integrateShell adjusts a shell's argv and environment so that it loads
// the shell integration. argv is the login shell's ("-bash"); sh and
// unknown shells are left as they are, as is everything when the
// integration is off or its scripts cannot be written (the shell then runs
// without command tracking rather than not at all). It reports whether the
// shell will emit marks.
func (m *Manager) integrateShell(shellName string, argv, env []string) ([]string, []string, bool) {
	if !m.cfg.ShellIntegration {
		return argv, env, false
	}
	switch shellName {
	case "bash", "zsh", "fish":
	default:
		return argv, env, false
	}
	dir, err := m.shellintDir()
	if err != nil {
		m.log.Warn("shell integration off", "err", err)
		return argv, env, false
	}
	switch shellName {
	case "bash":
		// A login shell ignores --rcfile; the rc file reads the login
		// files itself.
		return []string{"bash", "--rcfile", filepath.Join(dir, "bashrc")}, env, true
	case "zsh":
		return argv, append(env, "ZDOTDIR="+dir), true
	default: // fish
		return append(argv, "--init-command", "source "+fishQuote(filepath.Join(dir, "integration.fish"))), env, true
	}
}

// fishQuote quotes s as one fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// removeShellint deletes the scripts' directory at shutdown.
func (m *Manager) removeShellint() {
	m.shellintOnce.Do(func() {}) // no writer after this
	if m.shellintPath != "" {
		os.RemoveAll(m.shellintPath)
	}
}
