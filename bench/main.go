// Command bench puts codeterm beside the raw PTY and OpenSSH on this machine,
// in one run, alternating the systems round by round so that machine drift
// hits all alike. It prints a markdown table and writes bench/RESULTS.md.
//
//	go run ./bench            full run
//	go run ./bench -quick     a smaller run (make bench QUICK=1)
//	go run ./bench -files 256 file transfer: socket, HTTP and scp (bench/FILES.md)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-relay" {
		if err := relayMain(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "-serve-ports" {
		if err := servePorts(); err != nil {
			fmt.Fprintln(os.Stderr, "serve-ports:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "-serve-proxy" {
		if err := serveBareProxy(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "serve-proxy:", err)
			os.Exit(1)
		}
		return
	}
	ports := flag.Bool("ports", false, "measure only port previews and the TCP tunnel, into bench/PORTS.md")
	quick := flag.Bool("quick", false, "smaller data and fewer rounds")
	out := flag.String("out", filepath.Join("bench", "RESULTS.md"), "results file")
	rounds := flag.Int("rounds", 0, "override the plan's rounds (development)")
	mib := flag.Int("mib", 0, "override the plan's MiB per cat (development)")
	scale := flag.String("scale", "", "override the plan's scale steps, e.g. 10,20 (development)")
	fan := flag.String("fan", "", "override the plan's fan-out client counts, e.g. 10,50 (development)")
	files := flag.Int("files", 0, "instead: file transfer throughput with a file of this many MiB (socket, HTTP, scp); writes bench/FILES.md")
	flag.BoolVar(&verbose, "v", false, "log how long each part takes")
	flag.StringVar(&baseline, "baseline", "", "also measure codeterm built from this source tree, as \"..., before\" (an A/B in one run)")
	flag.BoolVar(&createsOnly, "creates", false, "measure only sessions created per second, for the systems that have it (development)")
	flag.StringVar(&only, "only", "", "measure only the systems whose name contains one of these comma-separated strings, or the phase pacing, fanout, scale or soak (development)")
	flag.DurationVar(&scaleHold, "scale-hold", 0, "keep the scale phase's largest step open this long, to profile the server by hand (development)")
	flag.Parse()
	// One codeterm user as the OS user running the bench, for the servers
	// and for every CLI call beside them (workspace create, token): as
	// root, the default would create OS accounts that outlive the run.
	os.Setenv("CODETERM_SECURITY_ISOLATION", "single")
	log.SetFlags(0)
	log.SetPrefix("bench: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *files > 0 {
		if err := runFiles(ctx, *files, max(*rounds, 3), filepath.Join("bench", "FILES.md")); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *ports {
		if err := portsMain(ctx, filepath.Join("bench", "PORTS.md")); err != nil {
			log.Fatal(err)
		}
		return
	}
	p := fullPlan
	if *quick {
		p = quickPlan
	}
	if *rounds > 0 {
		p.rounds = *rounds
		p.name += ", fewer rounds"
	}
	if createsOnly {
		p.name += ", sessions/s only"
	}
	if *mib > 0 {
		p.catBytes, p.fanBytes = *mib<<20, min(p.fanBytes, *mib<<20)
		p.name += ", less data"
	}
	if *fan != "" {
		p.fanOut = counts("-fan", *fan)
		p.name += ", other fan-out"
	}
	if *scale != "" {
		p.scale = counts("-scale", *scale)
		p.name += ", smaller scale"
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

// counts parses a flag's comma-separated list of positive counts.
func counts(name, list string) []int {
	var ns []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			log.Fatalf("%s: %q", name, f)
		}
		ns = append(ns, n)
	}
	return ns
}
