package sessions

import (
	"context"
	"errors"
	"io"
	"testing"
)

// BenchmarkRecordThroughput compares one client's throughput with no
// recorder, with a recorder switched off (what every session has with
// sessions.record off) and with recording on, in the same run.
func BenchmarkRecordThroughput(b *testing.B) {
	file := writeText(b)
	for _, c := range []struct {
		name string
		cfg  func(dir string) Config
	}{
		{"none", func(string) Config { return Config{} }},
		{"off", func(dir string) Config { return Config{RecordDir: dir, RecordOnRequest: true} }},
		{"on", func(dir string) Config { return Config{RecordDir: dir} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := NewManager(c.cfg(b.TempDir()), nil, nil)
			defer m.Shutdown(context.Background())
			b.SetBytes(throughputBytes)
			for b.Loop() {
				s, err := m.Create(context.Background(), SpawnOptions{UserID: "u", WorkspaceID: "w", Dir: b.TempDir(), Shell: "sh", Cols: 120, Rows: 40})
				if err != nil {
					b.Fatal(err)
				}
				a, err := s.Attach(AttachOptions{LastSeq: 0})
				if err != nil {
					b.Fatal(err)
				}
				a.Write([]byte("exec cat " + file + "\n"))
				for {
					if _, err := a.Next(context.Background()); err != nil {
						if !errors.Is(err, io.EOF) {
							b.Fatal(err)
						}
						break
					}
				}
				a.Close()
				<-s.Done()
			}
		})
	}
}
