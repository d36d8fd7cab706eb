package main

// plan sizes a run.
type plan struct {
	name       string
	rounds     int
	catBytes   int // bytes of terminal text cat'ed per throughput round
	keystrokes int // per echo round
}

var (
	fullPlan  = plan{name: "full", rounds: 5, catBytes: 100 << 20, keystrokes: 1000}
	quickPlan = plan{name: "quick", rounds: 3, catBytes: 16 << 20, keystrokes: 300}
)
