package sshd

import (
	"context"
	"fmt"
	"io"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/muesli/termenv"

	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// picker lets the user choose a workspace (or create an empty one) and then
// attaches to it on the same channel.
func (s *Server) picker(sess ssh.Session, u *store.User, p ssh.Pty) {
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	input := feed(sess)
	stop := make(chan struct{})
	r := lipgloss.NewRenderer(sess, termenv.WithProfile(termenv.ANSI256), termenv.WithUnsafe())
	m := &pickerModel{srv: s, user: u, ctx: ctx, styles: newPickerStyles(r), width: p.Window.Width, height: p.Window.Height}
	if err := m.reload(); err != nil {
		s.fail(sess, "codeterm: %v", err)
		return
	}
	prog := tea.NewProgram(m,
		tea.WithContext(ctx),
		tea.WithInput(&chanReader{ch: input, stop: stop}),
		tea.WithOutput(sess),
		tea.WithAltScreen(),
		tea.WithoutSignalHandler(),
	)
	// p.Window is read again for the attach below; stopWindows orders the
	// writes before that read.
	stopWindows := onWindowChange(sess, func(w ssh.Window) {
		p.Window = w
		prog.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
	})
	_, err := prog.Run()
	close(stop)
	stopWindows()
	if err != nil || m.chosen == nil {
		drainWindows(sess)
		sess.Exit(0)
		return
	}
	// Said after the picker's reader has stopped: whatever is typed from
	// here on goes to the shell.
	io.WriteString(sess, "codeterm: attaching to "+m.chosen.Name+"\r\n")
	s.attachInput(sess, &chanReader{ch: input}, u, m.chosen, "", p)
}

type pickerStyles struct{ title, selected, dim, err lipgloss.Style }

func newPickerStyles(r *lipgloss.Renderer) pickerStyles {
	return pickerStyles{
		title:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("39")),
		selected: r.NewStyle().Bold(true).Foreground(lipgloss.Color("229")).Background(lipgloss.Color("57")),
		dim:      r.NewStyle().Foreground(lipgloss.Color("245")),
		err:      r.NewStyle().Foreground(lipgloss.Color("203")),
	}
}

type pickerItem struct {
	ws       *store.Workspace
	branch   string
	sessions int
}

type pickerModel struct {
	srv    *Server
	user   *store.User
	ctx    context.Context
	styles pickerStyles

	items         []pickerItem
	cursor        int
	naming        bool
	name          string
	err           string
	width, height int
	chosen        *store.Workspace
}

func (m *pickerModel) reload() error {
	list, err := m.srv.Store.Workspaces(m.ctx, m.user.ID)
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	m.items = m.items[:0]
	for _, ws := range list {
		n := 0
		for _, ss := range m.srv.Sessions.List(m.user.ID, ws.ID) {
			if ss.Info().Status == store.SessionActive {
				n++
			}
		}
		m.items = append(m.items, pickerItem{ws: ws, branch: workspaces.CurrentBranch(ws.LocalPath), sessions: n})
	}
	if m.cursor >= len(m.items) {
		m.cursor = max(0, len(m.items)-1)
	}
	return nil
}

type createdMsg struct {
	ws  *store.Workspace
	err error
}

func (m *pickerModel) Init() tea.Cmd { return nil }

func (m *pickerModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case createdMsg:
		if msg.err != nil {
			m.err = msg.err.Error()
			return m, nil
		}
		m.chosen = msg.ws
		return m, tea.Quit
	case tea.KeyMsg:
		if m.naming {
			return m.updateNaming(msg)
		}
		m.err = ""
		switch msg.String() {
		case "ctrl+c", "q", "esc":
			return m, tea.Quit
		case "up", "k":
			if m.cursor > 0 {
				m.cursor--
			}
		case "down", "j":
			if m.cursor < len(m.items)-1 {
				m.cursor++
			}
		case "n":
			m.naming, m.name = true, ""
		case "enter":
			if len(m.items) > 0 {
				m.chosen = m.items[m.cursor].ws
				return m, tea.Quit
			}
		}
	}
	return m, nil
}

func (m *pickerModel) updateNaming(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.Type {
	case tea.KeyCtrlC, tea.KeyEsc:
		m.naming = false
	case tea.KeyBackspace:
		if m.name != "" {
			m.name = m.name[:len(m.name)-1]
		}
	case tea.KeyEnter:
		name := m.name
		m.naming = false
		return m, func() tea.Msg {
			ws, err := m.srv.Workspaces.Create(m.ctx, m.user, workspaces.CreateOptions{Name: name})
			return createdMsg{ws: ws, err: err}
		}
	case tea.KeyRunes:
		if len(m.name) < 64 {
			m.name += string(msg.Runes)
		}
	}
	return m, nil
}

func (m *pickerModel) View() string {
	var b strings.Builder
	b.WriteString(m.styles.title.Render("codeterm: "+m.user.Name) + "\n\n")
	if len(m.items) == 0 {
		b.WriteString(m.styles.dim.Render("No workspace yet. Press n to create one.") + "\n")
	}
	for i, it := range m.items {
		line := fmt.Sprintf(" %-28s %-18s %d session(s) ", it.ws.Name, it.branch, it.sessions)
		if i == m.cursor {
			b.WriteString(m.styles.selected.Render(line) + "\n")
		} else {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("\n")
	if m.naming {
		b.WriteString("New workspace name: " + m.name + "█\n")
		b.WriteString(m.styles.dim.Render("enter create · esc cancel") + "\n")
	} else {
		b.WriteString(m.styles.dim.Render("↑/↓ move · enter open · n new empty workspace · q quit") + "\n")
	}
	if m.err != "" {
		b.WriteString("\n" + m.styles.err.Render(m.err) + "\n")
	}
	return b.String()
}
