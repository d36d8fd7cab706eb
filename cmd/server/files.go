package main

import (
	"log/slog"

	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/workspaces"
)

// fileService serves the browser's file operations; with per-user OS
// accounts what they create is the user's.
func fileService(cfg *config.Config, wsm *workspaces.Manager, accounts *isolation.Accounts, log *slog.Logger) *files.Service {
	var opener files.Opener = files.OSOpener{}
	if accounts != nil {
		opener = files.AccountOpener{Account: accounts.For}
	}
	return files.New(files.Config{
		Opener:           opener,
		Workspaces:       wsm,
		MaxReadBytes:     int64(cfg.Files.MaxReadBytes),
		MaxUploadBytes:   int64(cfg.Files.MaxUploadBytes),
		MaxInFlightBytes: int64(cfg.Files.MaxInFlightBytes),
		UploadIdle:       cfg.Files.UploadIdle,
		Log:              log.With("component", "files"),
	})
}
