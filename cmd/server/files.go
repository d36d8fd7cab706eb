package main

import (
	"log/slog"

	"github.com/codeterm/codeterm/config"
	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/workspaces"
)

// fileService serves the browser's file operations. With per-user OS
// accounts, set files.Config.Opener to one that opens roots with the
// user's credentials.
func fileService(cfg *config.Config, wsm *workspaces.Manager, log *slog.Logger) *files.Service {
	return files.New(files.Config{
		Workspaces:       wsm,
		MaxReadBytes:     int64(cfg.Files.MaxReadBytes),
		MaxUploadBytes:   int64(cfg.Files.MaxUploadBytes),
		MaxInFlightBytes: int64(cfg.Files.MaxInFlightBytes),
		UploadIdle:       cfg.Files.UploadIdle,
		Log:              log.With("component", "files"),
	})
}
