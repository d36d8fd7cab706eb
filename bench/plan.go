package main

import "time"

// plan sizes a run.
type plan struct {
	name       string
	rounds     int
	catBytes   int   // bytes of terminal text cat'ed per throughput round
	keystrokes int   // per echo round
	exitRuns   int   // `echo R; exit` sessions per system, over all rounds
	dials      int   // connection set-ups timed per system and round
	creates    int   // sessions created per system and round, for sessions/s
	fanBytes   int   // bytes cat'ed to every fan-out client
	fanOut     []int // clients attached to one session
	attaches   int   // late joiners per transport and round
	scale      []int // idle sessions held open at once, measured once per system
	// soakClients socket.io-client tabs load codeterm for soakFor, once.
	soakClients int
	soakFor     time.Duration
}

var (
	fullPlan = plan{name: "full", rounds: 5, catBytes: 100 << 20, keystrokes: 1000, exitRuns: 200, dials: 5,
		creates: 20, fanBytes: 8 << 20, fanOut: []int{1, 10, 50}, attaches: 5, scale: []int{100, 500},
		soakClients: 40, soakFor: 60 * time.Second}
	quickPlan = plan{name: "quick", rounds: 3, catBytes: 16 << 20, keystrokes: 300, exitRuns: 60, dials: 3,
		creates: 10, fanBytes: 2 << 20, fanOut: []int{1, 10, 50}, attaches: 3, scale: []int{20, 100},
		soakClients: 10, soakFor: 15 * time.Second}
)
