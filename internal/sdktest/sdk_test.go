// Package sdktest drives pbkeys with the official PocketBase JS SDK
// (js/sdk.mjs, pinned in js/package-lock.json), the way an API client would.
package sdktest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
)

// result is what js/sdk.mjs prints.
type result struct {
	CreatedKeyID      string   `json:"createdKeyId"`
	Key               string   `json:"key"`
	CreatedHasHash    bool     `json:"createdHasHash"`
	EmailViaKey       string   `json:"emailViaKey"`
	NotesViaKey       []string `json:"notesViaKey"`
	ListKeysViaKey    int      `json:"listKeysViaKey"`
	AuthRefreshViaKey int      `json:"authRefreshViaKey"`
	ListedHasSecret   bool     `json:"listedHasSecret"`
	AfterRevoke       int      `json:"afterRevoke"`
}

func TestOfficialJSSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	sdk := filepath.Join("js", "node_modules", "pocketbase")
	if _, statErr := os.Stat(sdk); err != nil || statErr != nil {
		msg := "the JS SDK test needs node and `npm ci --prefix internal/sdktest/js` (.ci/run does both)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	env := hookstest.New(t)
	defer env.App.Cleanup()
	srv := env.Serve(t)

	cmd := exec.Command(node, "sdk.mjs")
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(),
		"PBKEYS_URL="+srv.URL,
		"PBKEYS_EMAIL="+hookstest.AliceEmail,
		"PBKEYS_PASSWORD="+hookstest.Password,
	)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node sdk.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var got result
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}

	key, err := apikey.Parse(got.Key)
	if err != nil || key.ID != got.CreatedKeyID {
		t.Fatalf("create() returned key %q for record %q", got.Key, got.CreatedKeyID)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"create() response has no key_hash", !got.CreatedHasHash},
		{"authStore.save(key) authenticates as the owner", got.EmailViaKey == hookstest.AliceEmail},
		{"the key sees the owner's notes only", strings.Join(got.NotesViaKey, "|") == "Alice's note"},
		{"a key cannot list keys (403)", got.ListKeysViaKey == 403},
		{"a key cannot authRefresh (403)", got.AuthRefreshViaKey == 403},
		{"listing keys never shows a secret", !got.ListedHasSecret},
		{"a revoked key gets 401", got.AfterRevoke == 401},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: got %+v", c.what, got)
		}
	}
}
