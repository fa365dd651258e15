package cli_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// status is the status of GET /api/collections/notes/records with key.
func status(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/api/collections/notes/records", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func disabled(t *testing.T, env *hookstest.Env, id string) bool {
	t.Helper()
	r, err := env.Store.Find(id)
	if err != nil {
		t.Fatalf("key %s: %v", id, err)
	}
	return r.GetBool(keystore.FieldDisabled)
}

func TestDisableEnable(t *testing.T) {
	env := newEnv(t)
	srv := env.Serve(t)

	// Any owner's keys: the CLI is the operator's tool.
	stdout, stderr, err := run(t, env, "disable", hookstest.AliceKeyID, hookstest.BobKeyID, hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	want := `Disabled k1alice00000001 "Alice CI" of alice@example.com.` + "\n" +
		`Disabled k2bob0000000001 "Bob laptop" of bob@example.com.` + "\n"
	if stdout != want || stderr != "" {
		t.Errorf("disable: stdout %q, stderr %q; want %q", stdout, stderr, want)
	}
	if !disabled(t, env, hookstest.AliceKeyID) || !disabled(t, env, hookstest.BobKeyID) {
		t.Error("the keys are not disabled")
	}
	if got := status(t, srv.URL, hookstest.AliceKey); got != http.StatusUnauthorized {
		t.Errorf("disabled key: status %d, want 401", got)
	}

	// Again: says so, changes nothing.
	stdout, _, err = run(t, env, "disable", hookstest.AliceKeyID)
	if err != nil || stdout != `Already disabled: k1alice00000001 "Alice CI" of alice@example.com.`+"\n" {
		t.Errorf("disable again: %q, %v", stdout, err)
	}

	stdout, stderr, err = run(t, env, "enable", hookstest.AliceKeyID)
	if err != nil || stdout != `Enabled k1alice00000001 "Alice CI" of alice@example.com.`+"\n" || stderr != "" {
		t.Errorf("enable: stdout %q, stderr %q, err %v", stdout, stderr, err)
	}
	if disabled(t, env, hookstest.AliceKeyID) || !disabled(t, env, hookstest.BobKeyID) {
		t.Error("enable changed the wrong keys")
	}
	if got := status(t, srv.URL, hookstest.AliceKey); got != http.StatusOK {
		t.Errorf("enabled key: status %d, want 200", got)
	}
	if got := status(t, srv.URL, hookstest.BobKey); got != http.StatusUnauthorized {
		t.Errorf("still disabled key: status %d, want 401", got)
	}
}

// Naming keys is all or nothing, like revoke.
func TestDisableUnknownChangesNothing(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"disable", hookstest.AliceKeyID, "nope00000000000"}, `No API key with the id "nope00000000000": nothing was disabled.`},
		{[]string{"disable", "nope1", hookstest.BobKeyID, "nope2"}, `No API keys with the ids "nope1", "nope2": nothing was disabled.`},
		{[]string{"enable", hookstest.AliceKeyID, "nope1"}, `No API key with the id "nope1": nothing was enabled.`},
		{[]string{"disable"}, `Name the keys to disable by id (see "apikeys list").`},
		{[]string{"enable", " "}, `Name the keys to enable by id (see "apikeys list").`},
		{[]string{"disable", "--all"}, `Unknown flag: --all. Run "pbkeys apikeys disable --help" for usage.`},
	} {
		stdout, _, err := run(t, env, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
		if stdout != "" {
			t.Errorf("%v: stdout = %q, want nothing", tc.args, stdout)
		}
		if disabled(t, env, hookstest.AliceKeyID) || disabled(t, env, hookstest.BobKeyID) {
			t.Fatalf("%v: a key was disabled", tc.args)
		}
	}
	// And enable leaves a disabled key disabled when another id is unknown.
	if _, err := env.Store.SetDisabled(env.Record(t, "users", hookstest.AliceID), hookstest.AliceKeyID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, env, "enable", hookstest.AliceKeyID, "nope1"); err == nil || !disabled(t, env, hookstest.AliceKeyID) {
		t.Errorf("enable with an unknown id: err %v; the key must stay disabled", err)
	}
}

// Enabling an expired key enables it, and warns that it still does not work.
func TestEnableExpiredWarns(t *testing.T) {
	env := newEnv(t)
	r, err := env.Store.SetDisabled(env.Record(t, "users", hookstest.AliceID), hookstest.AliceKeyID, true)
	if err != nil {
		t.Fatal(err)
	}
	r.Set(keystore.FieldExpires, time.Now().Add(-time.Hour))
	if err := env.App.Save(r); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := run(t, env, "enable", hookstest.AliceKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != `Enabled k1alice00000001 "Alice CI" of alice@example.com.`+"\n" {
		t.Errorf("stdout = %q", stdout)
	}
	for _, w := range []string{"Warning:", hookstest.AliceKeyID, "expired at", "still does not work", "apikeys roll " + hookstest.AliceKeyID} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not say %q", stderr, w)
		}
	}
	if disabled(t, env, hookstest.AliceKeyID) {
		t.Error("the expired key was not enabled")
	}

	// Disabling an expired key needs no warning.
	if _, stderr, err := run(t, env, "disable", hookstest.AliceKeyID); err != nil || stderr != "" {
		t.Errorf("disable an expired key: stderr %q, err %v", stderr, err)
	}
}
