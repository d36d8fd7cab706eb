package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
)

// writeText writes n bytes of typical terminal text: lines of random length
// (0-160 printable characters), about a fifth of them with SGR colours.
// The generator is seeded, so every run cats the same bytes.
func writeText(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/()[]{}<>"
	line := make([]byte, 0, 256)
	for written := 0; written < n; {
		line = line[:0]
		if r.IntN(5) == 0 {
			line = fmt.Appendf(line, "\x1b[%d;%dm", 30+r.IntN(8), 1+r.IntN(2))
		}
		for i, l := 0, r.IntN(161); i < l; i++ {
			line = append(line, letters[r.IntN(len(letters))])
		}
		line = append(line, "\x1b[0m\n"...)
		if written+len(line) > n {
			line = line[:n-written]
		}
		w.Write(line)
		written += len(line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
