package hooks_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks"
	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// issue creates a key for Alice with opts and returns it in plain text.
func issue(t testing.TB, env *hookstest.Env, opts keystore.Options) (string, *core.Record) {
	t.Helper()
	return issueFor(t, env, hookstest.AliceOwner, opts)
}

// issueFor creates a key for o with opts and returns it in plain text.
func issueFor(t testing.TB, env *hookstest.Env, o hookstest.Owner, opts keystore.Options) (string, *core.Record) {
	t.Helper()
	if opts.Label == "" {
		opts.Label = "scoped"
	}
	record, key, err := env.Store.Issue(o.Record(t, env), opts, keystore.Origin{Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return key.String(), record
}

// setField changes a key record directly, as time or an owner would.
func setField(t testing.TB, app core.App, keyID, field string, value any) {
	t.Helper()
	r, err := app.FindRecordById("api_keys", keyID)
	if err != nil {
		t.Fatal(err)
	}
	r.Set(field, value)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
}

// scenario runs s against env's app.
func scenario(t *testing.T, env *hookstest.Env, s tests.ApiScenario) {
	t.Helper()
	s.TestAppFactory = func(testing.TB) *tests.TestApp { return env.App }
	s.Test(t)
}

func TestExpiredAndDisabledKeys(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind+": expired", func(t *testing.T) {
			env := o.New(t)
			setField(t, env.App, o.KeyID, "expires", time.Now().Add(-time.Minute))
			scenario(t, env, tests.ApiScenario{
				Name: "an expired key gets 401 saying it expired", Method: http.MethodGet, URL: o.NoteURL(),
				Headers: bearer(o.Key), ExpectedStatus: 401,
				ExpectedContent:    []string{`"message":"The API key has expired."`},
				NotExpectedContent: []string{o.NoteTitle},
				AfterTestFunc:      expectInvalidToken,
			})
		})
		t.Run(o.Kind+": expired, wrong secret", func(t *testing.T) {
			env := o.New(t)
			setField(t, env.App, o.KeyID, "expires", time.Now().Add(-time.Minute))
			scenario(t, env, tests.ApiScenario{
				Name: "only the secret's holder learns that a key expired", Method: http.MethodGet, URL: o.NoteURL(),
				Headers: bearer(o.KeyID + "." + hookstest.BobKeySecret), ExpectedStatus: 401,
				ExpectedContent:    []string{`"message":"The API key is invalid or has been revoked."`},
				NotExpectedContent: []string{"expired"},
			})
		})
		t.Run(o.Kind+": not yet expired", func(t *testing.T) {
			env := o.New(t)
			setField(t, env.App, o.KeyID, "expires", time.Now().Add(time.Hour))
			scenario(t, env, tests.ApiScenario{
				Name: "a key before its expiry works", Method: http.MethodGet, URL: o.NoteURL(),
				Headers: bearer(o.Key), ExpectedStatus: 200, ExpectedContent: []string{o.NoteTitle},
			})
		})
		t.Run(o.Kind+": disable over REST", func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			srv := env.Serve(t)
			// a user manages their own keys; a service account's are a superuser's to manage
			manager := hookstest.SuperuserJWT(t, env.App)
			if o.Collection == "users" {
				manager = hookstest.JWT(t, env.App, o.ID)
			}
			steps := []struct {
				name, method, url, auth, body string
				status                        int
				content                       string
			}{
				{"the manager pauses a key", http.MethodPatch, keysURL + "/" + o.KeyID, manager, `{"disabled":true}`, 200, `"disabled":true`},
				{"a disabled key gets 401 saying so", http.MethodGet, o.NoteURL(), o.Key, "", 401, `"message":"The API key is disabled."`},
				{"the manager resumes it", http.MethodPatch, keysURL + "/" + o.KeyID, manager, `{"disabled":false}`, 200, `"disabled":false`},
				{"it works again without being re-issued", http.MethodGet, o.NoteURL(), o.Key, "", 200, o.NoteTitle},
			}
			for _, st := range steps {
				status, body := call(t, srv.URL, st.method, st.url, st.auth, st.body)
				if status != st.status || !strings.Contains(body, st.content) {
					t.Fatalf("%s: %d %s, want %d with %s", st.name, status, body, st.status, st.content)
				}
			}
		})
	}
	t.Run("expired keys stay listed", func(t *testing.T) {
		env := hookstest.New(t)
		setField(t, env.App, hookstest.AliceKeyID, "expires", time.Now().Add(-time.Minute))
		scenario(t, env, tests.ApiScenario{
			Name: "list", Method: http.MethodGet, URL: keysURL,
			Headers:        map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
			ExpectedStatus: 200, ExpectedContent: []string{hookstest.AliceKeyID, `"expires":"`},
		})
	})
}

// call makes one request with a JSON body against a served test app.
func call(t testing.TB, base, method, url, authorization, body string) (int, string) {
	t.Helper()
	return callAs(t, base, method, url, authorization, "application/json", body)
}

// callAs makes one request with a body of contentType.
func callAs(t testing.TB, base, method, url, authorization, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

func TestCreateWithLifecycleOptionsOverREST(t *testing.T) {
	future := time.Now().Add(90 * 24 * time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")
	past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")
	scenarios := []tests.ApiScenario{
		{
			Name:            "expiry, permissions, addresses and rate limit",
			Body:            strings.NewReader(`{"label":"scoped","expires":"` + future + `","permissions":{"notes":"read","secrets":"write"},"allowed_ips":["10.0.0.0/8","2001:db8::/32"],"rate_limit":600}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"key":"`, `"expires":"` + future + `"`, `"permissions":{"notes":"read","secrets":"write"}`, `"allowed_ips":["10.0.0.0/8","2001:db8::/32"]`, `"rate_limit":600`},
		},
		{
			Name:            "full access: null permissions",
			Body:            strings.NewReader(`{"label":"full","permissions":null}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"key":"`, `"permissions":null`, `"allowed_ips":null`},
		},
		{
			Name:            "every other collection, and the app's routes",
			Body:            strings.NewReader(`{"label":"reader","permissions":{"*":"read","secrets":"none","@routes":"read"}}`),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"permissions":{"*":"read","@routes":"read","secrets":"none"}`},
		},
		{
			Name:            "an expiry in the past",
			Body:            strings.NewReader(`{"label":"x","expires":"` + past + `"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"expires":{"code":"validation_expires_in_past"`},
		},
		{
			Name:            "an unknown collection",
			Body:            strings.NewReader(`{"label":"x","permissions":{"nope":"read"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"permissions":{"code":"validation_permissions"`, `There is no collection named \"nope\".`},
		},
		{
			Name:            "a collection spelt in another case",
			Body:            strings.NewReader(`{"label":"x","permissions":{"Notes":"read"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`There is no collection named \"Notes\".`},
		},
		{
			Name:            "a system collection",
			Body:            strings.NewReader(`{"label":"x","permissions":{"_superusers":"read"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`API keys cannot be given permissions on the \"_superusers\" collection.`},
		},
		{
			Name:            "the api_keys collection itself",
			Body:            strings.NewReader(`{"label":"x","permissions":{"api_keys":"write"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`API keys cannot be given permissions on the \"api_keys\" collection.`},
		},
		{
			Name:            "the usage collection",
			Body:            strings.NewReader(`{"label":"x","permissions":{"api_key_usage":"read"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`API keys cannot be given permissions on the \"api_key_usage\" collection.`},
		},
		{
			Name:            "an unknown level",
			Body:            strings.NewReader(`{"label":"x","permissions":{"notes":"admin"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"permissions":{"code":"validation_permissions"`, `The permission for \"notes\" must be \"read\", \"write\" or \"none\", not \"admin\".`},
		},
		{
			Name:            "a level in capitals",
			Body:            strings.NewReader(`{"label":"x","permissions":{"notes":"READ"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`must be \"read\", \"write\" or \"none\"`},
		},
		{
			Name:            "a level that is not a string",
			Body:            strings.NewReader(`{"label":"x","permissions":{"notes":true}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`must be \"read\", \"write\" or \"none\", not true`},
		},
		{
			Name:            "a misspelt special name",
			Body:            strings.NewReader(`{"label":"x","permissions":{"@route":"read"}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`\"@route\" is not a collection name`},
		},
		{
			Name:            "a list instead of an object",
			Body:            strings.NewReader(`{"label":"x","permissions":["notes"]}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`Permissions must be an object from collection name to \"read\" or \"write\"`},
		},
		{
			Name:            "a string instead of an object",
			Body:            strings.NewReader(`{"label":"x","permissions":"read"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`Permissions must be an object`},
		},
		{
			Name:            "an empty object (null is full access)",
			Body:            strings.NewReader(`{"label":"x","permissions":{}}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`Permissions cannot be empty`},
		},
		{
			Name:            "an address that is not one",
			Body:            strings.NewReader(`{"label":"x","allowed_ips":["10.0.0.300"]}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"allowed_ips":{"code":"validation_allowed_ips"`, `\"10.0.0.300\" is neither an address nor a CIDR range.`},
		},
		{
			Name:            "a range with host bits",
			Body:            strings.NewReader(`{"label":"x","allowed_ips":["10.0.0.1/8"]}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`has bits set after its /8; did you mean 10.0.0.0/8?`},
		},
		{
			Name:            "the old read_only option",
			Body:            strings.NewReader(`{"label":"x","read_only":true}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"read_only":{"code":"validation_unknown_field"`},
		},
		{
			Name:            "the old collections option",
			Body:            strings.NewReader(`{"label":"x","collections":["notes"]}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"collections":{"code":"validation_unknown_field"`},
		},
		{
			Name:            "an expiry that is not a date (would otherwise never expire)",
			Body:            strings.NewReader(`{"label":"x","expires":"tomorrow"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"expires":{"code":"validation_expires_format"`},
		},
		{
			Name:            "an expiry more than 10 years ahead",
			Body:            strings.NewReader(`{"label":"x","expires":"9999-01-01 00:00:00.000Z"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"expires":{"code":"validation_expires_too_far"`},
		},
		{
			Name:            "a rate limit that is not a number (would otherwise be unlimited)",
			Body:            strings.NewReader(`{"label":"x","rate_limit":"abc"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"rate_limit":{"code":"validation_rate_limit_format"`},
		},
		{
			Name:            "a fractional rate limit",
			Body:            strings.NewReader(`{"label":"x","rate_limit":1.5}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"rate_limit":{"code":"validation_rate_limit_format"`},
		},
		{
			Name:            "disabled that is not a boolean (would otherwise be enabled)",
			Body:            strings.NewReader(`{"label":"x","disabled":"yes"}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"disabled":{"code":"validation_bool_format"`},
		},
		{
			Name:            "a negative rate limit",
			Body:            strings.NewReader(`{"label":"x","rate_limit":-1}`),
			ExpectedStatus:  400,
			ExpectedContent: []string{`"rate_limit":{"code":`},
		},
	}
	for _, s := range scenarios {
		env := hookstest.New(t)
		s.Name = "POST api_keys: " + s.Name
		s.Method = http.MethodPost
		s.URL = keysURL
		s.Headers = map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)}
		s.NotExpectedContent = []string{`"key_hash"`, "$argon2id$"}
		scenario(t, env, s)
	}
}

func TestDisabledMustBeABoolean(t *testing.T) {
	env := hookstest.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "PATCH disabled:maybe", Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
		Headers:        map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
		Body:           strings.NewReader(`{"disabled":"maybe"}`),
		ExpectedStatus: 400, ExpectedContent: []string{`"disabled":{"code":"validation_bool_format"`},
	})
}

func TestScopesAreFixedAfterCreation(t *testing.T) {
	for _, body := range []string{
		`{"expires":"2099-01-01 00:00:00.000Z"}`,
		`{"rate_limit":5}`,
	} {
		env := hookstest.New(t)
		scenario(t, env, tests.ApiScenario{
			Name: "PATCH " + body, Method: http.MethodPatch, URL: keysURL + "/" + hookstest.AliceKeyID,
			Headers:        map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
			Body:           strings.NewReader(body),
			ExpectedStatus: 400, ExpectedContent: []string{"roll the key to change anything else"},
		})
	}
}

func TestRealtimeStopsWhenKeyExpiresOrIsDisabled(t *testing.T) {
	for _, o := range hookstest.Owners {
		for field, value := range map[string]any{
			"expires":  time.Now().Add(-time.Second),
			"disabled": true,
		} {
			t.Run(o.Kind+": "+field, func(t *testing.T) {
				env := o.New(t)
				defer env.App.Cleanup()
				srv := env.Serve(t)
				c := connectRealtime(t, srv.URL)
				if res := c.subscribe(t, o.Key, "notes/*"); res.StatusCode != http.StatusNoContent {
					t.Fatalf("subscribe: %d", res.StatusCode)
				}
				setField(t, env.App, o.KeyID, field, value)
				saveNoteOf(t, env.App, o, "after "+field)
				for {
					ev := c.next(t, 5*time.Second)
					if ev.Name == "closed" {
						return
					}
					if strings.Contains(ev.Data, "after "+field) {
						t.Fatalf("a key that is %s still receives events", field)
					}
				}
			})
		}
	}
}

func TestPerKeyRateLimit(t *testing.T) {
	for _, o := range hookstest.Owners {
		t.Run(o.Kind, func(t *testing.T) {
			env := o.New(t)
			defer env.App.Cleanup()
			srv := env.Serve(t)
			limited, _ := issueFor(t, env, o, keystore.Options{RatePerMinute: 3})

			get := func(key string) *http.Response {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+o.NoteURL(), nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res
			}
			for i := 0; i < 3; i++ {
				if res := get(limited); res.StatusCode != 200 {
					t.Fatalf("request %d within the limit: %d", i+1, res.StatusCode)
				}
			}
			res := get(limited)
			if res.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("4th request in a minute: %d, want 429", res.StatusCode)
			}
			if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("Retry-After = %q, want seconds to wait", ra)
			}
			// other keys of the same owner are not affected
			if res := get(o.Key); res.StatusCode != 200 {
				t.Fatalf("an unlimited key of the same owner: %d", res.StatusCode)
			}
		})
	}
}

func TestRollOverREST(t *testing.T) {
	rollURL := "/api/api-keys/" + hookstest.AliceKeyID + "/roll"
	t.Run("grace 1h: both keys work, the old one expires in an hour", func(t *testing.T) {
		env := hookstest.New(t)
		setField(t, env.App, hookstest.AliceKeyID, "rate_limit", 600)
		scenario(t, env, tests.ApiScenario{
			Name: "roll", Method: http.MethodPost, URL: rollURL, Body: strings.NewReader(`{"grace":"1h"}`),
			Headers:            map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"key":"`, `"label":"` + hookstest.AliceKeyLabel + `"`, `"rate_limit":600`},
			NotExpectedContent: []string{`"key_hash"`, "$argon2id$"},
			AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
				var body struct{ ID, Key string }
				readJSON(t, res, &body)
				if body.ID == hookstest.AliceKeyID || !strings.HasPrefix(body.Key, body.ID+".") {
					t.Fatalf("rolled key %q for record %q", body.Key, body.ID)
				}
				old, _ := app.FindRecordById("api_keys", hookstest.AliceKeyID)
				exp := old.GetDateTime("expires").Time()
				if d := time.Until(exp); d < 59*time.Minute || d > 61*time.Minute {
					t.Fatalf("old key expires in %s, want 1h", d)
				}
			},
		})
	})
	t.Run("grace now: the old key stops at once, the new one works", func(t *testing.T) {
		env := hookstest.New(t)
		defer env.App.Cleanup()
		srv := env.Serve(t)
		status, body := call(t, srv.URL, http.MethodPost, rollURL, hookstest.JWT(t, env.App, hookstest.AliceID), `{"grace":"now"}`)
		if status != 200 {
			t.Fatalf("roll: %d %s", status, body)
		}
		var rolled struct{ Key string }
		if err := json.Unmarshal([]byte(body), &rolled); err != nil {
			t.Fatal(err)
		}
		if status, body := call(t, srv.URL, http.MethodGet, aliceNoteURL, hookstest.AliceKey, ""); status != 401 || !strings.Contains(body, "The API key has expired.") {
			t.Fatalf("old key after roll: %d %s", status, body)
		}
		if status, body := call(t, srv.URL, http.MethodGet, aliceNoteURL, rolled.Key, ""); status != 200 {
			t.Fatalf("new key after roll: %d %s", status, body)
		}
	})
	t.Run("a key is rolled once; its replacement can be rolled again", func(t *testing.T) {
		env := hookstest.New(t)
		defer env.App.Cleanup()
		srv := env.Serve(t)
		jwt := hookstest.JWT(t, env.App, hookstest.AliceID)
		status, body := call(t, srv.URL, http.MethodPost, rollURL, jwt, `{"grace":"1h"}`)
		if status != 200 {
			t.Fatalf("first roll: %d %s", status, body)
		}
		var first struct{ ID string }
		_ = json.Unmarshal([]byte(body), &first)
		status, body = call(t, srv.URL, http.MethodPost, rollURL, jwt, `{"grace":"1h"}`)
		if status != http.StatusConflict || !strings.Contains(body, "already rolled; roll its replacement "+first.ID) {
			t.Fatalf("second roll of the same key: %d %s, want 409 naming %s", status, body, first.ID)
		}
		status, body = call(t, srv.URL, http.MethodPost, "/api/api-keys/"+first.ID+"/roll", jwt, `{"grace":"now"}`)
		if status != 200 {
			t.Fatalf("rolling the replacement: %d %s", status, body)
		}
		keys, _ := env.App.FindAllRecords("api_keys")
		if len(keys) != 4 { // Bob's, the original, the first and the second replacement
			t.Fatalf("%d keys, want 4", len(keys))
		}
		for _, k := range keys {
			if k.Id != hookstest.BobKeyID && k.GetString("replaced_by") == "" && !k.GetDateTime("expires").IsZero() {
				t.Fatalf("the newest replacement of a never-expiring key expires at %s", k.GetDateTime("expires"))
			}
		}
	})
	for _, c := range []struct {
		name, url, body string
		byKey           bool
		status          int
		content         string
	}{
		{"an unknown grace period", rollURL, `{"grace":"3d"}`, false, 400, `Choose a grace period`},
		{"someone else's key", "/api/api-keys/" + hookstest.BobKeyID + "/roll", `{"grace":"1h"}`, false, 404, `"status":404`},
		{"with an API key", rollURL, `{"grace":"1h"}`, true, 403, "API keys cannot manage API keys"},
	} {
		env := hookstest.New(t)
		auth := hookstest.JWT(t, env.App, hookstest.AliceID)
		if c.byKey {
			auth = hookstest.AliceKey
		}
		scenario(t, env, tests.ApiScenario{
			Name: "roll: " + c.name, Method: http.MethodPost, URL: c.url, Body: strings.NewReader(c.body),
			Headers: map[string]string{"Authorization": auth}, ExpectedStatus: c.status, ExpectedContent: []string{c.content},
			AfterTestFunc: expectKeyCount(2),
		})
	}
	guest := tests.ApiScenario{
		Name: "roll: a guest", Method: http.MethodPost, URL: rollURL, Body: strings.NewReader(`{"grace":"1h"}`),
		ExpectedStatus: 401, ExpectedContent: []string{`"status":401`}, TestAppFactory: hookstest.Factory(),
	}
	guest.Test(t)
}

func TestOwnerIsEmailedWhenAKeyIsCreated(t *testing.T) {
	env := hookstest.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "superuser creates a key for Bob", Method: http.MethodPost, URL: keysURL,
		Headers: map[string]string{
			"Authorization": hookstest.SuperuserJWT(t, env.App),
			"User-Agent":    "curl/8.0 <script>",
		},
		Body:            strings.NewReader(`{"label":"deploy <b>bot</b>","owner":"` + hookstest.BobID + `"}`),
		ExpectedStatus:  200,
		ExpectedContent: []string{`"key":"`},
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, res *http.Response) {
			var body struct{ ID, Key string }
			readJSON(t, res, &body)
			waitForMail(t, app, 1)
			msg := app.TestMailer.LastMessage()
			if len(msg.To) != 1 || msg.To[0].Address != hookstest.BobEmail {
				t.Fatalf("mail to %v, want the owner %s", msg.To, hookstest.BobEmail)
			}
			for _, want := range []string{"deploy <b>bot</b>", body.ID, "REST API", "curl/8.0 <script>", "/api-keys"} {
				if !strings.Contains(msg.Text, want) {
					t.Errorf("mail text lacks %q:\n%s", want, msg.Text)
				}
			}
			if !strings.Contains(msg.HTML, "deploy &lt;b&gt;bot&lt;/b&gt;") || strings.Contains(msg.HTML, "<script>") {
				t.Errorf("mail HTML does not escape user input:\n%s", msg.HTML)
			}
			if strings.Contains(msg.Text+msg.HTML+msg.Subject, strings.SplitN(body.Key, ".", 2)[1]) {
				t.Fatal("the mail contains the secret")
			}
		},
	})
}

func TestMailFailureDoesNotFailKeyCreation(t *testing.T) {
	env := hookstest.New(t)
	env.App.OnMailerSend().BindFunc(func(e *core.MailerEvent) error {
		return errors.New("smtp down")
	})
	scenario(t, env, tests.ApiScenario{
		Name: "create while the mailer fails", Method: http.MethodPost, URL: keysURL,
		Headers:         map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
		Body:            strings.NewReader(`{"label":"still works"}`),
		ExpectedStatus:  200,
		ExpectedContent: []string{`"key":"`},
		AfterTestFunc:   expectKeyCount(3),
	})
}

func waitForMail(t testing.TB, app *tests.TestApp, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for app.TestMailer.TotalSend() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d mails sent, want %d", app.TestMailer.TotalSend(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNoMailForAKeyRolledBackInABatch(t *testing.T) {
	env := hookstest.New(t)
	scenario(t, env, tests.ApiScenario{
		Name: "a batch that creates a key and then fails", Method: http.MethodPost, URL: "/api/batch",
		Headers: map[string]string{"Authorization": hookstest.JWT(t, env.App, hookstest.AliceID)},
		Body: strings.NewReader(`{"requests":[
			{"method":"POST","url":"/api/collections/api_keys/records","body":{"label":"phantom"}},
			{"method":"POST","url":"/api/collections/notes/records","body":{"owner":"` + hookstest.BobID + `","title":"refused"}}
		]}`),
		BeforeTestFunc: enableBatch,
		ExpectedStatus: 400, ExpectedContent: []string{`"status":400`},
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
			expectKeyCount(2)(t, app, nil)
			time.Sleep(200 * time.Millisecond) // notifications are sent in the background
			if n := app.TestMailer.TotalSend(); n != 0 {
				t.Fatalf("%d mails about a key that was rolled back", n)
			}
		},
	})
}

func TestRateLimitCountsBatchSubRequests(t *testing.T) {
	env := hookstest.New(t)
	key, _ := issue(t, env, keystore.Options{RatePerMinute: 3})
	var subs []string
	for i := 0; i < 5; i++ {
		subs = append(subs, `{"method":"POST","url":"/api/collections/notes/records","body":{"owner":"`+hookstest.AliceID+`","title":"batched"}}`)
	}
	scenario(t, env, tests.ApiScenario{
		Name: "a batch of 5 writes with a 3/min key", Method: http.MethodPost, URL: "/api/batch",
		Headers:        bearer(key),
		Body:           strings.NewReader(`{"requests":[` + strings.Join(subs, ",") + `]}`),
		BeforeTestFunc: enableBatch,
		ExpectedStatus: 400, ExpectedContent: []string{`"status":429`, "limited to 3 requests per minute"},
		AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
			n, _ := app.CountRecords("notes")
			if n != 2 { // the fixture's two notes: the batch was rolled back
				t.Fatalf("%d notes, want the 2 of the fixture", n)
			}
		},
	})
}

func TestOwnerMailLinksToThePages(t *testing.T) {
	for _, c := range []struct {
		name      string
		configure func(*hooks.Config)
		want      string
		not       string
	}{
		{"default prefix", func(*hooks.Config) {}, "/api-keys", "have the key revoked"},
		{"another prefix", func(c *hooks.Config) { c.PagesPath = "/account/keys" }, "/account/keys", "/api-keys"},
		{"no pages", func(c *hooks.Config) { c.NoPages = true }, "have the key revoked", "/api-keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := hookstest.New(t, c.configure)
			defer env.App.Cleanup()
			if _, _, err := env.Store.Issue(env.Alice(t), keystore.Options{Label: "mailed"}, keystore.Origin{Via: "test"}); err != nil {
				t.Fatal(err)
			}
			waitForMail(t, env.App, 1)
			msg := env.App.TestMailer.LastMessage()
			if !strings.Contains(msg.Text, c.want) || !strings.Contains(msg.HTML, c.want) || strings.Contains(msg.Text+msg.HTML, c.not) {
				t.Fatalf("mail does not say %q (or says %q):\n%s\n%s", c.want, c.not, msg.Text, msg.HTML)
			}
		})
	}
}
