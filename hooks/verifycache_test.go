package hooks_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// These tests drive one app through many requests in-process (the full
// router, as `serve` builds it) with chosen client addresses, to show what
// the verifier's cache and throttle do and do not change.

// inProcessMux builds env's full router once.
func inProcessMux(t testing.TB, env *hookstest.Env) http.Handler {
	t.Helper()
	router, err := apis.NewRouter(env.App)
	if err != nil {
		t.Fatal(err)
	}
	event := &core.ServeEvent{App: env.App, Router: router}
	if err := env.App.OnServe().Trigger(event, func(e *core.ServeEvent) error { return e.Next() }); err != nil {
		t.Fatal(err)
	}
	mux, err := router.BuildMux()
	if err != nil {
		t.Fatal(err)
	}
	return mux
}

// getAs sends GET path with the Authorization value from the client IP.
func getAs(h http.Handler, path, authorization, ip string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = ip + ":40000"
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func expectStatus(t testing.TB, rec *httptest.ResponseRecorder, want int, what string) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, rec.Code, want, rec.Body.String())
	}
}

// wrongAliceKey is Alice's key id with a well-formed but wrong secret.
func wrongAliceKey(i int) string {
	s := []byte(hookstest.BobKeySecret)
	s[0] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i%26]
	return hookstest.AliceKeyID + "." + string(s)
}

const (
	ownerIP    = "192.0.2.1"
	attackerIP = "198.51.100.7"
)

// TestWarmCacheNeverOutlivesTheKeyRow: after the owner's key is verified
// (cached) and its id is throttled by an attacker — so that any request not
// answered from the cache would get 429 — the owner still gets 200; and the
// very next request after revocation, expiry, disabling, owner deletion or
// an authRule change fails, cache or not.
func TestWarmCacheNeverOutlivesTheKeyRow(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, app core.App){
		"key revoked": func(t *testing.T, app core.App) {
			deleteRecord(t, app, "api_keys", hookstest.AliceKeyID)
		},
		"key expired": func(t *testing.T, app core.App) {
			setField(t, app, hookstest.AliceKeyID, keystore.FieldExpires, time.Now().Add(-time.Minute).UTC().Format(types.DefaultDateLayout))
		},
		"key disabled": func(t *testing.T, app core.App) {
			setField(t, app, hookstest.AliceKeyID, keystore.FieldDisabled, true)
		},
		"owner deleted": func(t *testing.T, app core.App) {
			deleteRecord(t, app, "users", hookstest.AliceID)
		},
		"owner fails the authRule": func(t *testing.T, app core.App) {
			blockAliceByAuthRule(t, app)
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := hookstest.New(t, func(c *hooks.Config) { c.Tuning.Verifier.MaxKeyFailures, c.Tuning.Verifier.RefusalDelay = 2, -1 })
			t.Cleanup(env.App.Cleanup)
			h := inProcessMux(t, env)

			expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP), 200, "owner, first use")
			for i := range 2 {
				expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+wrongAliceKey(i), attackerIP), 401, "wrong secret")
			}
			expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+wrongAliceKey(9), attackerIP), 429, "id throttled")
			expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP), 200, "owner from the cache while throttled")

			change(t, env.App)

			rec := getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP)
			expectStatus(t, rec, 401, "owner's next request")
			if !strings.Contains(rec.Header().Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("no invalid_token challenge: %v", rec.Header())
			}
		})
	}
}

// TestFailureThrottleAnswers429: wrong secrets for a key id are refused
// (429, Retry-After, PocketBase's error shape) for the client that sent
// them, on that key id, and for nobody else: the key's holder gets in even
// with a cold cache (right after a restart).
func TestFailureThrottleAnswers429(t *testing.T) {
	env := hookstest.New(t, func(c *hooks.Config) {
		c.Tuning.Verifier.MaxKeyFailures = 3
		c.Tuning.Verifier.YieldAfterFailures = 100
		c.Tuning.Verifier.RefusalDelay = -1 // 429s answered at once (the hold is tested in internal/apikey)
	})
	t.Cleanup(env.App.Cleanup)
	h := inProcessMux(t, env)

	for i := range 3 {
		expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+wrongAliceKey(i), attackerIP), 401, "wrong secret")
	}
	rec := getAs(h, aliceNoteURL, "Bearer "+wrongAliceKey(5), attackerIP)
	expectStatus(t, rec, 429, "after 3 failures")
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After = %q, want 1..60 seconds", rec.Header().Get("Retry-After"))
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != 429.0 || body["message"] == "" {
		t.Fatalf("not PocketBase's error shape: %s", rec.Body.String())
	}
	if _, ok := body["data"].(map[string]any); !ok {
		t.Fatalf("no data object: %s", rec.Body.String())
	}

	// the same key id from another address: its own guesses are checked
	expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+wrongAliceKey(6), "203.0.113.9"), 401, "another address")
	// the holder, never verified before (cold cache), gets in
	expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKey, ownerIP), 200, "cold holder while the id is guessed")
	// the attacker's address is refused on this key id only
	expectStatus(t, getAs(h, "/api/collections/notes/records/"+hookstest.BobNoteID, "Bearer "+hookstest.BobKey, attackerIP), 200, "Bob's key")
	// malformed or unknown keys are never turned into 429: they never cost argon2id
	expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+hookstest.AliceKeyID+".short", attackerIP), 401, "malformed")
	expectStatus(t, getAs(h, aliceNoteURL, "Bearer zzzzzzzzzzzzzzz."+hookstest.AliceKeySecret, attackerIP), 401, "unknown id")
}

// TestFailureThrottlePerClientNeverRefuses: an address with many wrong
// secrets over many keys (one broken machine in a fleet behind NAT) is not
// refused: its verifications only wait behind other clients'.
func TestFailureThrottlePerClientNeverRefuses(t *testing.T) {
	env := hookstest.New(t, func(c *hooks.Config) {
		c.Tuning.Verifier.MaxKeyFailures = 100
		c.Tuning.Verifier.YieldAfterFailures = 2
		c.Tuning.Verifier.RefusalDelay = -1
	})
	t.Cleanup(env.App.Cleanup)
	h := inProcessMux(t, env)

	for i := range 4 {
		expectStatus(t, getAs(h, aliceNoteURL, "Bearer "+wrongAliceKey(i), attackerIP), 401, "wrong secret")
	}
	bobNote := "/api/collections/notes/records/" + hookstest.BobNoteID
	expectStatus(t, getAs(h, bobNote, "Bearer "+hookstest.BobKey, attackerIP), 200, "a correct key from the same address")
}
