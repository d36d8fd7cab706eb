package auth

import (
	"testing"
	"time"
)

func TestThrottleHoldsFailuresOverTheBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	th := NewThrottle(3)
	th.Now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if d := th.Fail("addr 10.0.0.1", "user alice"); d != 0 {
			t.Fatalf("failure %d within the budget held %v", i+1, d)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if d := th.Fail("addr 10.0.0.1", "user alice"); d != w {
			t.Fatalf("failure %d over the budget: held %v, want %v", i+1, d, w)
		}
	}
	// The attempted user is slowed from another address too...
	if d := th.Hold("addr 10.0.0.2", "user alice"); d != 10*time.Second {
		t.Fatalf("alice from another address: %v", d)
	}
	// ...but another user from another address is not.
	if d := th.Hold("addr 10.0.0.2", "user bob"); d != 0 {
		t.Fatalf("bob from another address: %v", d)
	}
	// The buckets drain at the budget's rate.
	now = now.Add(10 * time.Minute)
	if d := th.Fail("addr 10.0.0.1", "user alice"); d != 0 {
		t.Fatalf("after the buckets drained: %v", d)
	}
}

func TestThrottleForgetsDrainedBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	th := NewThrottle(3)
	th.Now = func() time.Time { return now }
	for i := 0; i < 10001; i++ {
		th.Fail("addr " + time.Duration(i).String())
	}
	now = now.Add(time.Hour)
	th.Fail("addr last")
	if n := len(th.buckets); n != 1 {
		t.Fatalf("%d buckets after pruning, want 1", n)
	}
}
