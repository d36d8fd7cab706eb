package files

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// send writes data in chunks of n bytes from offset and waits for every
// acknowledgement, returning the last progress.
func send(t *testing.T, u *Upload, data []byte, offset int64, n int) (Progress, error) {
	t.Helper()
	type res struct {
		p   Progress
		err error
	}
	var last Progress
	for off := offset; off < int64(len(data)); {
		end := min(off+int64(n), int64(len(data)))
		ch := make(chan res, 1)
		if err := u.Write(off, data[off:end], func(p Progress, err error) { ch <- res{p, err} }); err != nil {
			return Progress{}, err
		}
		r := <-ch
		if r.err != nil {
			return r.p, r.err
		}
		last = r.p
		off = end
	}
	return last, nil
}

func TestUploadResume(t *testing.T) {
	s, _, ws, _ := setup(t, Config{})
	data := make([]byte, 1<<20+17)
	rand.Read(data)
	ctx := context.Background()
	_, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "up/load.bin", Size: int64(len(data)), Sha256: sum(data)})
	if Code(err) != "FILE_NOT_FOUND" {
		t.Fatalf("upload into a missing directory = %v", err)
	}
	os.Mkdir(filepath.Join(ws, "up"), 0o755)
	u, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "up/load.bin", Size: int64(len(data)), Sha256: sum(data)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, u, data[:len(data)/2], 0, 64<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, "up", "load.bin")); !os.IsNotExist(err) {
		t.Fatal("the file appeared before it was complete")
	}
	tr, _ := s.Open(ctx, alice, "w1")
	if l, err := tr.List("up", 1, 0, ""); err != nil || len(l.Entries) != 0 {
		t.Fatalf("the partial file is listed: %+v, %v", l.Entries, err)
	}
	tr.Close()
	// A chunk at the wrong offset is refused and the upload goes on.
	if _, err := send(t, u, data, 10, 10); Code(err) != "UPLOAD_OFFSET" {
		t.Fatalf("out of order chunk = %v", err)
	}
	// Another user cannot see it; its owner resumes it.
	if _, err := s.Upload("u2", u.ID); Code(err) != "UPLOAD_NOT_FOUND" {
		t.Fatalf("other user's upload = %v", err)
	}
	u2, err := s.Upload("u1", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := u2.Resume(ctx)
	if err != nil || p.Offset != int64(len(data)/2) {
		t.Fatalf("Resume = %+v, %v", p, err)
	}
	p, err = send(t, u2, data, p.Offset, 100<<10)
	if err != nil || !p.Done || p.Sha256 != sum(data) {
		t.Fatalf("final progress %+v, %v", p, err)
	}
	got, err := os.ReadFile(filepath.Join(ws, "up", "load.bin"))
	if err != nil || sum(got) != sum(data) {
		t.Fatalf("uploaded file differs: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(ws, "up"))
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if _, err := s.Upload("u1", u.ID); Code(err) != "UPLOAD_NOT_FOUND" {
		t.Fatalf("finished upload still listed: %v", err)
	}
}

func TestUploadChecksumMismatch(t *testing.T) {
	s, _, ws, _ := setup(t, Config{})
	data := []byte("hello world")
	u, err := s.StartUpload(context.Background(), alice, "w1", UploadOptions{Path: "h.txt", Size: 11, Sha256: strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, u, data, 0, 4); Code(err) != "CHECKSUM_MISMATCH" {
		t.Fatalf("mismatch = %v", err)
	}
	entries, _ := os.ReadDir(ws)
	for _, e := range entries {
		if e.Name() != ".git" && e.Name() != "src" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestUploadLimits(t *testing.T) {
	s, _, ws, _ := setup(t, Config{MaxUploadBytes: 100, MaxInFlightBytes: 150})
	ctx := context.Background()
	if _, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "a", Size: 101}); Code(err) != "FILE_TOO_LARGE" {
		t.Fatalf("over the per-upload limit = %v", err)
	}
	u, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "a", Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "b", Size: 60}); Code(err) != "LIMIT_EXCEEDED" {
		t.Fatalf("over the in-flight limit = %v", err)
	}
	u.Abort()
	if _, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "b", Size: 60}); err != nil {
		t.Fatalf("after abort: %v", err)
	}
	if _, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "src/main.go", Size: 1}); Code(err) != "FILE_EXISTS" {
		t.Fatalf("over an existing file = %v", err)
	}
	if _, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "empty", Size: 0}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(ws, "empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty upload: %v", err)
	}
	// Close removes partial files.
	s.Close()
	entries, _ := os.ReadDir(ws)
	for _, e := range entries {
		if strings.Contains(e.Name(), "codeterm-upload") {
			t.Errorf("partial file left after Close: %s", e.Name())
		}
	}
}

func TestUploadCountAndLateClash(t *testing.T) {
	s, _, ws, _ := setup(t, Config{})
	ctx := context.Background()
	var ups []*Upload
	for i := range MaxUploadsPerUser {
		u, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: fmt.Sprintf("u%d", i), Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}
	if _, err := s.StartUpload(ctx, alice, "w1", UploadOptions{Path: "one-more", Size: 1}); Code(err) != "LIMIT_EXCEEDED" {
		t.Fatalf("upload %d = %v", MaxUploadsPerUser+1, err)
	}
	for _, u := range ups[1:] {
		u.Abort()
	}
	// A file made at the target while the upload ran is not overwritten.
	write(t, filepath.Join(ws, "u0"), "made meanwhile")
	if _, err := send(t, ups[0], []byte("x"), 0, 1); Code(err) != "FILE_EXISTS" {
		t.Fatalf("late clash = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "u0")); string(b) != "made meanwhile" {
		t.Fatalf("overwritten: %q", b)
	}
}
