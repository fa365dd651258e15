package hookstest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// Binary builds the pbkeys binary once per test process and returns its
// path, for tests that run it as an operator would: another process, with
// its own signals, exit status and database connections. The directory is
// the system's temp dir, so run it with --dev=false (PocketBase turns dev
// mode on for binaries there) and with --dir or from its own directory.
// The binary is removed when the process exits via TestMain (RemoveBinary).
func Binary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pbkeys-test-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "pbkeys")
		// go test puts its own go first on PATH.
		cmd := exec.Command("go", "build", "-o", binaryPath, "github.com/pbkeys/pbkeys")
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// Command is the built binary run on dataDir with args, as another
// process: dev mode off, and the JS hooks and migrations directories kept
// inside dataDir — by default PocketBase looks next to it, which for a
// temp dir is the shared /tmp.
func Command(t testing.TB, dataDir string, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(Binary(t), append(args,
		"--dir", dataDir, "--dev=false",
		"--hooksDir", filepath.Join(dataDir, "pb_hooks"),
		"--migrationsDir", filepath.Join(dataDir, "pb_migrations"),
	)...)
}

// RemoveBinary removes what Binary built; call it from TestMain after
// m.Run.
func RemoveBinary() {
	if binaryPath != "" {
		os.RemoveAll(filepath.Dir(binaryPath))
	}
}
