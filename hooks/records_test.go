package hooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/logger"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

const keysURL = "/api/collections/api_keys/records"

// neverInBodies are what no response except the one reveal may contain:
// the fixture secrets and any argon2id hash.
var neverInBodies = []string{hookstest.AliceKeySecret, hookstest.BobKeySecret, "$argon2id$", `"key_hash":"`}

func TestIssueKeyOverREST(t *testing.T) {
	scenarios := []tests.ApiScenario{
		{
			Name:            "a user creates a key for themself with just a label",
			Body:            strings.NewReader(`{"label":"  CI deploy  "}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"key":"`, `"label":"CI deploy"`, `"owner":"` + hookstest.AliceID + `"`, `"owner_collection":"_pb_users_auth_"`},
			AfterTestFunc:   expectRevealedKeyWorks(hookstest.AliceID, "CI deploy"),
		},
		{
			Name:            "naming yourself as owner is fine",
			Body:            strings.NewReader(`{"label":"CI","owner":"` + hookstest.AliceID + `","owner_collection":"users"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"key":"`},
			AfterTestFunc:   expectRevealedKeyWorks(hookstest.AliceID, "CI"),
		},
		{
			Name:               "naming another user as owner is refused",
			Body:               strings.NewReader(`{"label":"CI","owner":"` + hookstest.BobID + `"}`),
			ExpectedStatus:     403,
			ExpectedContent:    []string{`"status":403`, "You can only create API keys for yourself."},
			NotExpectedContent: []string{`"key":"`},
			AfterTestFunc:      expectKeyCount(2),
		},
		{
			Name:               "a client-sent key_hash is refused",
			Body:               strings.NewReader(`{"label":"CI","key_hash":"$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"key_hash":{"code":"validation_server_managed"`},
			NotExpectedContent: []string{`"key":"`},
			AfterTestFunc:      expectKeyCount(2),
		},
		{
			Name:               "empty label",
			Body:               strings.NewReader(`{"label":""}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"label":{"code":"validation_required"`},
			NotExpectedContent: []string{`"key":"`},
			AfterTestFunc:      expectKeyCount(2),
		},
		{
			Name:               "blank label is empty once trimmed",
			Body:               strings.NewReader(`{"label":"    "}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"label":{"code":"validation_required"`},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:               "label over 100 characters",
			Body:               strings.NewReader(`{"label":"` + strings.Repeat("é", 101) + `"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"label":{"code":"validation_max_text_constraint"`},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:            "label of exactly 100 characters",
			Body:            strings.NewReader(`{"label":"` + strings.Repeat("é", 100) + `"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"key":"`},
		},
		{
			Name:               "label with a control character",
			Body:               strings.NewReader(`{"label":"line\nbreak"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"label":{"code":"validation_invalid_format"`},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:               "label with a bidirectional override",
			Body:               strings.NewReader(`{"label":"deploy \u202egnp.exe"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"label":{"code":"validation_invalid_format"`},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:               "label with a zero-width space",
			Body:               strings.NewReader(`{"label":"CI\u200b"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"label":{"code":"validation_invalid_format"`},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:            "label in another script",
			Body:            strings.NewReader(`{"label":"Déploiement — 本番"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"label":"Déploiement — 本番"`},
		},
		{
			Name:               "malformed JSON",
			Body:               strings.NewReader(`{"label":`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"status":400`},
			NotExpectedContent: []string{`"key":"`},
		},
	}
	for _, s := range scenarios {
		env := hookstest.New(t)
		s.Name = "POST api_keys: " + s.Name
		s.Method = http.MethodPost
		s.URL = keysURL
		s.Headers = map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID), "Content-Type": "application/json"}
		s.NotExpectedContent = append(s.NotExpectedContent, "$argon2id$", `"key_hash":"`)
		s.TestAppFactory = func(testing.TB) *tests.TestApp { return env.App }
		s.Test(t)
	}

	guest := tests.ApiScenario{
		Name:               "POST api_keys: a guest cannot create keys",
		Method:             http.MethodPost,
		URL:                keysURL,
		Body:               strings.NewReader(`{"label":"CI","owner":"` + hookstest.AliceID + `"}`),
		ExpectedStatus:     400,
		ExpectedContent:    []string{`"status":400`},
		NotExpectedContent: []string{`"key":"`},
		AfterTestFunc:      expectKeyCount(2),
		TestAppFactory:     hookstest.Factory(),
	}
	guest.Test(t)
}

func TestSuperuserIssuesKeys(t *testing.T) {
	scenarios := []tests.ApiScenario{
		{
			Name:            "superuser creates a key for any user and gets it once",
			Body:            strings.NewReader(`{"label":"ops","owner":"` + hookstest.BobID + `"}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"key":"`, `"owner":"` + hookstest.BobID + `"`, `"owner_collection":"_pb_users_auth_"`},
			AfterTestFunc:   expectRevealedKeyWorks(hookstest.BobID, "ops"),
		},
		{
			Name:               "superuser must name the owner",
			Body:               strings.NewReader(`{"label":"ops"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"status":400`, "Choose the record that will own the key"},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:               "superuser names an owner collection that may not own keys",
			Body:               strings.NewReader(`{"label":"ops","owner":"` + hookstest.AliceNoteID + `","owner_collection":"notes"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"owner_collection":{"code":"validation_owner_collection"`},
			NotExpectedContent: []string{`"key":"`},
		},
		{
			Name:               "superuser cannot pick a hash",
			Body:               strings.NewReader(`{"label":"ops","owner":"` + hookstest.BobID + `","owner_collection":"_pb_users_auth_","key_hash":"$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"}`),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"key_hash":{"code":"validation_server_managed"`},
			NotExpectedContent: []string{`"key":"`, "c2FsdHNhbHQ"},
			AfterTestFunc:      expectKeyCount(2),
		},
	}
	for _, s := range scenarios {
		env := hookstest.New(t)
		s.Method = http.MethodPost
		s.URL = keysURL
		s.Headers = map[string]string{"Authorization": hookstest.SuperuserJWT(t, env.App), "Content-Type": "application/json"}
		s.NotExpectedContent = append(s.NotExpectedContent, `"key_hash":"`)
		s.TestAppFactory = func(testing.TB) *tests.TestApp { return env.App }
		s.Test(t)
	}
}

func TestOwnersSeeOnlyTheirKeysAndNeverHashes(t *testing.T) {
	type who int
	const (
		alice who = iota
		superuser
	)
	scenarios := []struct {
		as who
		s  tests.ApiScenario
	}{
		{alice, tests.ApiScenario{
			Name: "list: own keys only", Method: http.MethodGet, URL: keysURL,
			ExpectedStatus: 200, ExpectedContent: []string{`"totalItems":1`, hookstest.AliceKeyID, `"label":"` + hookstest.AliceKeyLabel + `"`},
			NotExpectedContent: []string{hookstest.BobKeyID},
		}},
		{alice, tests.ApiScenario{
			Name: "view: own key", Method: http.MethodGet, URL: keysURL + "/" + hookstest.AliceKeyID,
			ExpectedStatus: 200, ExpectedContent: []string{`"id":"` + hookstest.AliceKeyID + `"`, `"last_used":""`},
		}},
		{alice, tests.ApiScenario{
			Name: "view: someone else's key is 404", Method: http.MethodGet, URL: keysURL + "/" + hookstest.BobKeyID,
			ExpectedStatus: 404, ExpectedContent: []string{`"status":404`},
		}},
		{alice, tests.ApiScenario{
			Name: "list: filtering on the hash is not allowed", Method: http.MethodGet, URL: keysURL + "?filter=" + "key_hash~'argon'",
			ExpectedStatus: 400, ExpectedContent: []string{`"status":400`},
		}},

		{alice, tests.ApiScenario{
			Name: "update: the label", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
			Body:           strings.NewReader(`{"label":" renamed "}`),
			ExpectedStatus: 200, ExpectedContent: []string{`"label":"renamed"`},
		}},
		{alice, tests.ApiScenario{
			Name: "update: the owner cannot change", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
			Body:           strings.NewReader(`{"owner":"` + hookstest.BobID + `"}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"owner":{"code":"validation_server_managed"`},
		}},
		{alice, tests.ApiScenario{
			Name: "update: last_used cannot be forged", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
			Body:           strings.NewReader(`{"last_used":"2020-01-01 00:00:00.000Z"}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"last_used":{"code":"validation_server_managed"`},
		}},
		{alice, tests.ApiScenario{
			Name: "update: someone else's key is 404", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.BobKeyID,
			Body:           strings.NewReader(`{"label":"mine now"}`),
			ExpectedStatus: 404, ExpectedContent: []string{`"status":404`},
		}},
		{alice, tests.ApiScenario{
			Name: "delete: someone else's key is 404", Method: http.MethodDelete, URL: keysURL + "/" + hookstest.BobKeyID,
			ExpectedStatus: 404, ExpectedContent: []string{`"status":404`}, AfterTestFunc: expectKeyCount(2),
		}},
		{alice, tests.ApiScenario{
			Name: "delete: own key", Method: http.MethodDelete, URL: keysURL + "/" + hookstest.AliceKeyID,
			ExpectedStatus: 204, AfterTestFunc: expectKeyCount(1),
		}},
		{superuser, tests.ApiScenario{
			Name: "superuser lists every key, without hashes", Method: http.MethodGet, URL: keysURL,
			ExpectedStatus: 200, ExpectedContent: []string{`"totalItems":2`, hookstest.AliceKeyID, hookstest.BobKeyID},
		}},
		{superuser, tests.ApiScenario{
			Name: "superuser views a key, without its hash", Method: http.MethodGet, URL: keysURL + "/" + hookstest.BobKeyID,
			ExpectedStatus: 200, ExpectedContent: []string{hookstest.BobKeyID},
		}},
		{superuser, tests.ApiScenario{
			Name: "superuser asks for the hash by name", Method: http.MethodGet, URL: keysURL + "/" + hookstest.BobKeyID + "?fields=id,key_hash",
			ExpectedStatus: 200, ExpectedContent: []string{`"id":"` + hookstest.BobKeyID + `"`},
		}},

		{superuser, tests.ApiScenario{
			Name: "superuser cannot overwrite a hash", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.BobKeyID,
			Body:           strings.NewReader(`{"key_hash":"$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"key_hash":{"code":"validation_server_managed"`},
		}},
		{superuser, tests.ApiScenario{
			Name: "superuser deletes any key", Method: http.MethodDelete, URL: keysURL + "/" + hookstest.BobKeyID,
			ExpectedStatus: 204, AfterTestFunc: expectKeyCount(1),
		}},
	}
	for _, sc := range scenarios {
		env := hookstest.New(t)
		s := sc.s
		token := hookstest.JWT(t, env.App, hookstest.AliceID)
		if sc.as == superuser {
			token = hookstest.SuperuserJWT(t, env.App)
		}
		s.Headers = map[string]string{"Authorization": token, "Content-Type": "application/json"}
		s.NotExpectedContent = append(s.NotExpectedContent, neverInBodies...)
		s.TestAppFactory = func(testing.TB) *tests.TestApp { return env.App }
		s.Test(t)
	}
}

// expectRevealedKeyWorks checks the revealed key: canonical <id>.<secret>,
// the right owner and label in the database, and only an argon2id hash of
// the secret stored. TestIssuedKeyAuthenticates uses such a key over HTTP.
func expectRevealedKeyWorks(ownerID, label string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(t testing.TB, app *tests.TestApp, res *http.Response) {
		t.Helper()
		var body struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		readJSON(t, res, &body)
		key, err := apikey.Parse(body.Key)
		if err != nil || key.ID != body.ID {
			t.Fatalf("revealed key %q is not <id>.<secret> for record %q (%v)", body.Key, body.ID, err)
		}
		record, err := app.FindRecordById("api_keys", key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if record.GetString("owner") != ownerID || record.GetString("label") != label {
			t.Fatalf("stored owner/label = %q/%q, want %q/%q", record.GetString("owner"), record.GetString("label"), ownerID, label)
		}
		hash := record.GetString("key_hash")
		if strings.Contains(hash, key.Secret) {
			t.Fatal("the secret is stored in plain text")
		}
		if ok, err := argon2id.ComparePasswordAndHash(key.Secret, hash); err != nil || !ok {
			t.Fatalf("stored hash does not verify the revealed secret (%v)", err)
		}
	}
}

func expectKeyCount(want int) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(t testing.TB, app *tests.TestApp, _ *http.Response) {
		t.Helper()
		records, err := app.FindAllRecords("api_keys")
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != want {
			t.Fatalf("api_keys holds %d records, want %d", len(records), want)
		}
	}
}

func readJSON(t testing.TB, res *http.Response, v any) {
	t.Helper()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

func TestKeyLifecycleIsLoggedWithoutSecrets(t *testing.T) {
	env := hookstest.New(t)
	defer env.App.Cleanup()
	env.App.Settings().Logs.MaxDays = 7 // test apps keep no logs by default
	if err := env.App.Save(env.App.Settings()); err != nil {
		t.Fatal(err)
	}

	record, key, err := env.Store.Issue(env.Record(t, "users", hookstest.AliceID), keystore.Options{Label: "logged key"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.App.Delete(record); err != nil {
		t.Fatal(err)
	}

	// flush PocketBase's batched log writer, then read the logs table
	handler, ok := env.App.Logger().Handler().(*logger.BatchHandler)
	if !ok {
		t.Fatalf("unexpected log handler %T", env.App.Logger().Handler())
	}
	if err := handler.WriteAll(context.WithValue(context.Background(), logger.BlockKey, true)); err != nil {
		t.Fatal(err)
	}
	var logs []*core.Log
	if err := env.App.LogQuery().All(&logs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range logs {
		raw, _ := json.Marshal(l)
		text := string(raw)
		if strings.Contains(text, key.Secret) || strings.Contains(text, "$argon2id$") {
			t.Fatalf("a log entry leaks the secret or its hash: %s", text)
		}
		if l.Data["keyId"] == record.Id && l.Data["ownerId"] == hookstest.AliceID && l.Data["label"] == "logged key" {
			seen[l.Message] = true
		}
	}
	for _, msg := range []string{"API key created", "API key deleted"} {
		if !seen[msg] {
			t.Errorf("no %q log entry with keyId, ownerId and label (logs: %d)", msg, len(logs))
		}
	}
}

func TestIssuedKeyAuthenticatesWithProductionArgon2(t *testing.T) {
	env := hookstest.New(t, func(c *hooks.Config) { c.Tuning.Argon2 = apikey.DefaultParams })
	record, key, err := env.Store.Issue(env.Record(t, "users", hookstest.AliceID), keystore.Options{Label: "production params"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _, err := argon2id.DecodeHash(record.GetString("key_hash")); err != nil || *p != apikey.DefaultParams {
		t.Fatalf("stored hash params = %+v (%v), want the library defaults", p, err)
	}
	s := tests.ApiScenario{
		Name:            "a freshly issued key (64 MiB argon2id) authenticates as its owner",
		Method:          http.MethodGet,
		URL:             aliceNoteURL,
		Headers:         bearer(key.String()),
		ExpectedStatus:  200,
		ExpectedContent: []string{`"title":"Alice's note"`},
		TestAppFactory:  func(testing.TB) *tests.TestApp { return env.App },
	}
	s.Test(t)
}

// TestRequestLogsNameTheKey: the dashboard's request logs name the key of
// every key-authenticated request (meta.apiKeyId), for every owner
// collection, and never the secret.
func TestRequestLogsNameTheKey(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			env.App.Settings().Logs.MaxDays = 7 // test apps keep no logs by default
			if err := env.App.Save(env.App.Settings()); err != nil {
				t.Fatal(err)
			}
			h := inProcessMux(t, env)
			expectStatus(t, getAs(h, o.NoteURL(), "Bearer "+o.Key, ownerIP), 200, "request with the key")
			expectStatus(t, getAs(h, o.NoteURL(), "Bearer "+o.KeyID+"."+hookstest.BobKeySecret, ownerIP), 401, "wrong secret")

			handler, ok := env.App.Logger().Handler().(*logger.BatchHandler)
			if !ok {
				t.Fatalf("unexpected log handler %T", env.App.Logger().Handler())
			}
			// PocketBase logs each request from a goroutine, in batches:
			// flush until both requests are there
			statuses := map[float64]bool{}
			var logs []*core.Log
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !(statuses[200] && statuses[401]); time.Sleep(20 * time.Millisecond) {
				if err := handler.WriteAll(context.WithValue(context.Background(), logger.BlockKey, true)); err != nil {
					t.Fatal(err)
				}
				logs = nil
				if err := env.App.LogQuery().All(&logs); err != nil {
					t.Fatal(err)
				}
				for _, l := range logs {
					raw, _ := json.Marshal(l)
					if strings.Contains(string(raw), o.KeySecret) || strings.Contains(string(raw), hookstest.BobKeySecret) {
						t.Fatalf("a log entry leaks a secret: %s", raw)
					}
					meta, _ := l.Data["meta"].(map[string]any)
					if l.Data["type"] == "request" && meta["apiKeyId"] == o.KeyID {
						status, _ := l.Data["status"].(float64)
						statuses[status] = true
					}
				}
			}
			if !statuses[200] || !statuses[401] {
				t.Fatalf("request logs naming %s: statuses %v, want the 200 and the 401 (%d logs)", o.KeyID, statuses, len(logs))
			}
		})
	}
}

// TestSuperuserIssuesServiceAccountKeys is docs/service-accounts.md's request: a
// superuser creates a key for a record of service_accounts, named by the
// collection's name; the key then works under the service account's rules,
// and outlives the superuser who made it.
func TestSuperuserIssuesServiceAccountKeys(t *testing.T) {
	env := hookstest.New(t, hookstest.ServiceAccounts)
	defer env.App.Cleanup()
	srv := env.Serve(t)
	status, body := call(t, srv.URL, http.MethodPost, keysURL, hookstest.SuperuserJWT(t, env.App),
		`{"label":"nightly deploy","owner":"`+hookstest.BotID+`","owner_collection":"service_accounts"}`)
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct {
		Key             string `json:"key"`
		Owner           string `json:"owner"`
		OwnerCollection string `json:"owner_collection"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	sa := collectionID(t, env, hookstest.ServiceAccountsCollection)
	if created.Owner != hookstest.BotID || created.OwnerCollection != sa {
		t.Fatalf("owner %s/%s, want %s/%s", created.OwnerCollection, created.Owner, sa, hookstest.BotID)
	}
	// the superuser who made it leaves
	su, _ := env.App.FindAuthRecordByEmail(core.CollectionNameSuperusers, "admin@example.com")
	other := core.NewRecord(su.Collection())
	other.SetEmail("other-admin@example.com")
	other.SetPassword(hookstest.Password)
	if err := env.App.Save(other); err != nil {
		t.Fatal(err)
	}
	if err := env.App.Delete(su); err != nil {
		t.Fatal(err)
	}
	if status, body := call(t, srv.URL, http.MethodGet, hookstest.BotOwner.NoteURL(), created.Key, ""); status != 200 || !strings.Contains(body, hookstest.BotNoteTitle) {
		t.Fatalf("the service account's key after its creator left: %d %s", status, body)
	}
	// and the service account's records are not a person's to use
	if status, _ := call(t, srv.URL, http.MethodGet, aliceNoteURL, created.Key, ""); status != 404 {
		t.Fatalf("the service account's key on Alice's note: %d, want 404", status)
	}
}
