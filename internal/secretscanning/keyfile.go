package secretscanning

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// KeyFile is a public keys document on disk (PBKEYS_LEAK_REPORT_KEYS),
// read again whenever it changes, so an operator refreshes GitHub's keys by
// replacing the file, without a restart. Nothing is fetched from the
// network: what the server trusts is what the operator put there.
type KeyFile struct {
	path string

	mu      sync.Mutex
	keys    *PublicKeys
	modTime time.Time // of the version of the file read last, usable or not
	size    int64
}

// OpenKeyFile reads the public keys document at path. An unreadable or
// invalid file is an error: a server told to accept reports must not start
// without keys to check them.
func OpenKeyFile(path string) (*KeyFile, error) {
	f := &KeyFile{path: path}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("the public keys file: %v", err)
	}
	if err := f.read(info); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path.
func (f *KeyFile) Path() string { return f.path }

// Keys returns the file's keys, read again first if the file changed since
// the last read. When a changed file cannot be used, the keys read before
// stay in use and the error says why, once per change (the caller logs it).
func (f *KeyFile) Keys() (*PublicKeys, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, err := os.Stat(f.path)
	if err != nil || info.ModTime().Equal(f.modTime) && info.Size() == f.size {
		return f.keys, nil // gone meanwhile (being replaced?) or unchanged
	}
	if err := f.read(info); err != nil {
		return f.keys, fmt.Errorf("%v; the keys read before stay in use", err)
	}
	return f.keys, nil
}

// read reads the file, which info describes. It records info even when the
// file cannot be used, so that it is not read again until it changes.
func (f *KeyFile) read(info os.FileInfo) error {
	f.modTime, f.size = info.ModTime(), info.Size()
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("the public keys file: %v", err)
	}
	keys, err := ParsePublicKeys(data)
	if err != nil {
		return fmt.Errorf("the public keys file %s: %v (get it from %s)", f.path, err, PublicKeysURL)
	}
	f.keys = keys
	return nil
}
