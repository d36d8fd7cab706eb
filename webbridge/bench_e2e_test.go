package webbridge

import (
	"slices"
	"strings"
	"sync"

	"bytes"
	"encoding/json"
	"github.com/gorilla/websocket"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkOutputForms measures terminal-output's two forms with the real
// socket.io-client (e2e/output-bench.mjs): one client cats a 16 MiB file
// per round, UTF-8 text or random bytes. It reports the client's MiB/s and
// the CPU time per MiB of this server process (RUSAGE_SELF: the shell and
// cat are children, not counted) and of the Node client.
//
//	go test -run '^$' -bench OutputForms -benchtime 3x ./webbridge/
func BenchmarkOutputForms(b *testing.B) {
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node is required")
	}
	dir, _ := filepath.Abs("e2e")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		b.Skip("run npm ci in webbridge/e2e first")
	}
	const size = 16 << 20
	data := map[string][]byte{"text": benchText(size), "bytes": benchBytes(size)}
	for _, kind := range []string{"text", "bytes"} {
		file := filepath.Join(b.TempDir(), kind)
		if err := os.WriteFile(file, data[kind], 0o600); err != nil {
			b.Fatal(err)
		}
		for _, form := range []string{"string", "binary"} {
			b.Run("data="+kind+"/form="+form, func(b *testing.B) {
				e := newEnv(b, envOptions{sessionQueue: 512 << 10, socketQueue: 256 << 10})
				cmd := exec.Command("node", "output-bench.mjs")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "CODETERM_URL="+e.ts.URL, "ALICE_TOKEN="+e.token(e.alice),
					"ALICE_WS="+e.aliceWS.ID, "FORM="+form, "FILE="+file, "ROUNDS="+strconv.Itoa(b.N))
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				cpu0 := selfCPU()
				b.ResetTimer()
				if err := cmd.Run(); err != nil {
					b.Fatalf("node: %v\n%s%s", err, out.String(), errOut.String())
				}
				b.StopTimer()
				server := selfCPU() - cpu0
				var r struct {
					Bytes       int64
					MS          float64 `json:"ms"`
					ClientCPUMs float64
				}
				if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Bytes == 0 {
					b.Fatalf("node said %q: %v", out.String(), err)
				}
				mib := float64(r.Bytes) / (1 << 20)
				b.ReportMetric(mib/(r.MS/1000), "MiB/s")
				b.ReportMetric(float64(server.Milliseconds())/mib, "server-cpu-ms/MiB")
				b.ReportMetric(r.ClientCPUMs/mib, "client-cpu-ms/MiB")
			})
		}
	}
}

// benchText is UTF-8 text as programs print it: lines of ASCII with a few
// accented letters and box-drawing characters.
func benchText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(" │ café naïve — the quick brown fox jumps over the lazy dog \"quoted\"\tand tabbed\n")
	}
	return b.Bytes()[:n]
}

func benchBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanOut has n raw websocket clients (no compression) attached to
// one session that cats 2 MiB of text, and reports each client's MiB/s
// (median). With -cpuprofile it shows where the server spends per client.
//
//	go test -run '^$' -bench FanOut -benchtime 5x -cpuprofile /tmp/fan.pprof ./webbridge/
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run("clients="+strconv.Itoa(n), func(b *testing.B) {
			e := newEnv(b, envOptions{sessionQueue: 512 << 10, socketQueue: 256 << 10})
			const size = 2 << 20
			file := filepath.Join(b.TempDir(), "text")
			if err := os.WriteFile(file, benchText(size), 0o600); err != nil {
				b.Fatal(err)
			}
			tok := e.token(e.alice)
			creator := e.dial(tok)
			id := creator.createTerminal(e.aliceWS.ID)
			creator.call("detach-terminal", map[string]any{"sessionId": id})
			readers := make([]*websocket.Conn, n)
			for i := range readers {
				c, ans := e.dialRaw(`{"token":` + strconv.Quote(tok) + `}`)
				if !strings.HasPrefix(ans, "40{") {
					b.Fatalf("connect: %s", ans)
				}
				readers[i] = c.ws
				c.ws.WriteMessage(websocket.TextMessage, []byte(`42["attach-terminal",{"sessionId":`+strconv.Quote(id)+`}]`))
			}
			input := func(s string) {
				creator.emitRaw("terminal-input", `{"sessionId":`+strconv.Quote(id)+`,"data":`+strconv.Quote(s)+`}`)
			}
			// readUntil reads one client's messages until one holds marker;
			// it returns the bytes read.
			readUntil := func(ws *websocket.Conn, marker string) (int, error) {
				total := 0
				ws.SetReadDeadline(time.Now().Add(time.Minute))
				for {
					_, m, err := ws.ReadMessage()
					if err != nil {
						return total, err
					}
					total += len(m)
					if string(m) == "2" {
						ws.WriteMessage(websocket.TextMessage, []byte("3"))
					}
					if bytes.Contains(m, []byte(marker)) {
						return total, nil
					}
				}
			}
			all := func(marker string) []float64 {
				start := time.Now()
				rates := make([]float64, n)
				var wg sync.WaitGroup
				for i, ws := range readers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						got, err := readUntil(ws, marker)
						if err != nil {
							b.Error(err)
						}
						rates[i] = float64(got) / (1 << 20) / time.Since(start).Seconds()
					}()
				}
				wg.Wait()
				return rates
			}
			input("stty -echo\r")
			var rates []float64
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				marker := "SYNC-" + strconv.Itoa(i)
				input("echo SY''NC-" + strconv.Itoa(i) + "\r")
				all(marker)
				b.StartTimer()
				cpu0 := selfCPU()
				input("cat " + file + "; echo E''ND-" + strconv.Itoa(i) + "\r")
				rates = append(rates, all("END-"+strconv.Itoa(i))...)
				cpu += selfCPU() - cpu0
				b.StopTimer()
			}
			slices.Sort(rates)
			b.ReportMetric(rates[len(rates)/2], "MiB/s/client")
			// CPU time of this process (server and the readers, which do
			// the same little work in any case) per MiB delivered to one
			// client: steadier than MiB/s on a busy machine.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N*n*size>>20), "cpu-ms/MiB/client")
		})
	}
}
