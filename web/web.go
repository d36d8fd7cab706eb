// Package web holds the browser front-end, embedded into the binary.
//
// The sources are in src/ (TypeScript); `make web` (npm ci && npm run build)
// bundles them with esbuild into static/, which is committed so that a
// fresh clone builds and runs without Node. TestStaticFresh fails when
// static/ does not match a fresh build of src/.
package web

import "embed"

// Static is the built front-end: static/index.html and static/assets/.
//
//go:embed static
var Static embed.FS
