// Package static holds the pages' CSS, JavaScript and icons, embedded in the
// binary: the pages never load anything from another origin (no CDN, no web
// fonts), so they work on a closed network and under a strict CSP.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed css js icons
var files embed.FS

// FS is the asset tree served under /static/ ("css/app.css", "js/app.js", ...).
var FS fs.FS = files

// Version is a short hash of every embedded asset. Pages link assets with
// "?v=<Version>" so browsers may cache them for long and still pick up a new
// build at once.
var Version = hashFiles()

func hashFiles() string {
	h := sha256.New()
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
