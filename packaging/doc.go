// Package packaging holds the Debian package's files (nfpm.yaml, the systemd
// unit, maintainer scripts, the sed script that makes the server's
// /etc/codeterm/config.yaml) and the tests that build and install it. It
// has no Go code of its own.
package packaging
