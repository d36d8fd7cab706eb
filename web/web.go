// Package web holds the browser front-end, embedded into the binary.
package web

import "embed"

// Static is the built front-end served by webbridge.
//
//go:embed static
var Static embed.FS
