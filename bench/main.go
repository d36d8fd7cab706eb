// Command bench puts codeterm beside the raw PTY and OpenSSH on this machine,
// in one run, alternating the systems round by round so that machine drift
// hits all alike. It prints a markdown table and writes bench/RESULTS.md.
//
//	go run ./bench            full run
//	go run ./bench -quick     a smaller run (make bench QUICK=1)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	quick := flag.Bool("quick", false, "smaller data and fewer rounds")
	out := flag.String("out", filepath.Join("bench", "RESULTS.md"), "results file")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := fullPlan
	if *quick {
		p = quickPlan
	}
	report, err := run(ctx, p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(report)
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", *out)
}
