package hooks_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Fail closed: a create or update of api_keys takes only the fields a
// person may set — the label, the options and the owner at create; the
// label and the disabled flag after — and names anything else in a 400:
// a typo must not quietly make a full-access key, and what the server
// manages (the id, the hash, the roll's replacement, last use) is never a
// client's to forge. Every body PocketBase reads counts: JSON, multipart
// (and its @jsonPayload), urlencoded, and batch sub-requests.

// formBody encodes fields as multipart/form-data, as the JS SDK sends a
// FormData; jsonPayload, when set, goes in PocketBase's @jsonPayload field.
func formBody(t testing.TB, fields map[string]string, jsonPayload string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if jsonPayload != "" {
		if err := w.WriteField("@jsonPayload", jsonPayload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, w.FormDataContentType()
}

func TestKeyFieldsFailClosed(t *testing.T) {
	const forged = `"replaced_by":"k2bob0000000001","last_used":"2020-01-01 00:00:00.000Z","last_used_ip":"6.6.6.6","last_used_user_agent":"forged-agent"`
	json := func(s string) func(testing.TB) (string, string) {
		return func(testing.TB) (string, string) { return s, "application/json" }
	}
	multi := func(fields map[string]string, payload string) func(testing.TB) (string, string) {
		return func(t testing.TB) (string, string) {
			buf, ct := formBody(t, fields, payload)
			return buf.String(), ct
		}
	}
	urlencoded := func(v url.Values) func(testing.TB) (string, string) {
		return func(testing.TB) (string, string) { return v.Encode(), "application/x-www-form-urlencoded" }
	}
	cases := []struct {
		name    string
		method  string // POST (create) or PATCH (update of the owner's key)
		query   string
		body    func(testing.TB) (string, string)
		status  int
		refused []string // the fields the answer names
		want    []string // more content expected
	}{
		// the reproductions
		{"a typo of read_only", "POST", "", json(`{"label":"x","read_onyl":true}`), 400, []string{"read_onyl"}, []string{`"code":"validation_unknown_field"`}},
		{"server-managed fields on create", "POST", "", json(`{"label":"forged",` + forged + `}`), 400,
			[]string{"replaced_by", "last_used", "last_used_ip", "last_used_user_agent"}, []string{`"code":"validation_server_managed"`}},
		{"a client-chosen id", "POST", "", json(`{"label":"x","id":"myownid0000001"}`), 400, []string{"id"}, nil},
		{"the hash", "POST", "", json(`{"label":"x","key_hash":"x"}`), 400, []string{"key_hash"}, nil},
		{"the reveal field", "POST", "", json(`{"label":"x","key":"x"}`), 400, []string{"key"}, nil},
		{"autodate fields", "POST", "", json(`{"label":"x","created":"2020-01-01 00:00:00.000Z","updated":""}`), 400, []string{"created", "updated"}, nil},
		{"a record's envelope sent back", "POST", "", json(`{"label":"x","collectionId":"x","collectionName":"api_keys"}`), 400, []string{"collectionId", "collectionName"}, nil},
		{"a modifier spelling", "POST", "", json(`{"label":"x","label+":"y"}`), 400, []string{"label+"}, nil},
		{"another case", "POST", "", json(`{"Label":"x"}`), 400, []string{"Label"}, nil},
		{"expand in the body is not the query parameter", "POST", "", json(`{"label":"x","expand":"owner"}`), 400, []string{"expand"}, nil},
		// every body PocketBase reads
		{"multipart typo", "POST", "", multi(map[string]string{"label": "x", "read_onyl": "true"}, ""), 400, []string{"read_onyl"}, nil},
		{"multipart @jsonPayload typo", "POST", "", multi(map[string]string{"label": "x"}, `{"read_onyl":true}`), 400, []string{"read_onyl"}, nil},
		{"multipart server-managed", "POST", "", multi(map[string]string{"label": "x", "last_used_ip": "6.6.6.6"}, ""), 400, []string{"last_used_ip"}, nil},
		{"urlencoded typo", "POST", "", urlencoded(url.Values{"label": {"x"}, "read_onyl": {"1"}}), 400, []string{"read_onyl"}, nil},
		{"a field in the query of a form post", "POST", "?replaced_by=k2bob0000000001", multi(map[string]string{"label": "x"}, ""), 400, []string{"replaced_by"}, nil},
		// what works: the options, and PocketBase's own query parameters
		{"every option", "POST", "", json(`{"label":"ok","expires":"2030-01-01 00:00:00.000Z","permissions":{"notes":"read"},"allowed_ips":["10.0.0.0/8"],"rate_limit":5,"disabled":false}`), 200, nil, []string{`"key":"`, `"permissions":{"notes":"read"}`, `"allowed_ips":["10.0.0.0/8"]`}},
		{"multipart with expand and fields in the query", "POST", "?expand=nothing&fields=id,label,key", multi(map[string]string{"label": "via form"}, ""), 200, nil, []string{`"label":"via form"`, `"key":"`}},
		{"JSON with fields in the query", "POST", "?fields=id,key", json(`{"label":"x"}`), 200, nil, []string{`"key":"`}},
		// updates: the label and the disabled flag only
		{"update: a typo", "PATCH", "", json(`{"disabeld":true}`), 400, []string{"disabeld"}, []string{"roll the key to change anything else"}},
		{"update: an option", "PATCH", "", json(`{"rate_limit":5}`), 400, []string{"rate_limit"}, []string{`"code":"validation_fixed_after_create"`}},
		{"update: server-managed", "PATCH", "", json(`{"label":"x",` + forged + `}`), 400, []string{"replaced_by", "last_used", "last_used_ip", "last_used_user_agent"}, nil},
		{"update: the id", "PATCH", "", json(`{"id":"k2bob0000000001"}`), 400, []string{"id"}, nil},
		{"update: multipart typo", "PATCH", "", multi(map[string]string{"label": "x", "disabeld": "1"}, ""), 400, []string{"disabeld"}, nil},
		{"update: the label and disabled", "PATCH", "?fields=id,label,disabled", json(`{"label":"renamed","disabled":true}`), 200, nil, []string{`"label":"renamed"`, `"disabled":true`}},
	}
	for _, o := range hookstest.Owners {
		for _, c := range cases {
			s := tests.ApiScenario{
				Name:           o.Kind + ": " + c.name,
				Method:         c.method,
				URL:            keysURL + c.query,
				ExpectedStatus: c.status,
			}
			if c.method == http.MethodPatch {
				s.URL = keysURL + "/" + o.KeyID + c.query
			}
			for _, f := range c.refused {
				s.ExpectedContent = append(s.ExpectedContent, `"`+f+`":{"code":"validation_`)
			}
			s.ExpectedContent = append(s.ExpectedContent, c.want...)
			if c.status != 200 {
				s.NotExpectedContent = []string{`"key":"`}
				want := 1 // the fixture key
				s.AfterTestFunc = func(t testing.TB, app *tests.TestApp, _ *http.Response) {
					expectKeyUnchanged(t, app, o)
					keys, _ := app.FindAllRecords(keystore.Collection)
					if n := countOwned(keys, o); n != want {
						t.Errorf("%d keys of %s, want %d", n, o.ID, want)
					}
				}
			}
			s.TestAppFactory = func(t testing.TB) *tests.TestApp {
				env := o.New(t)
				raw, ct := c.body(t)
				s.Body = strings.NewReader(raw)
				s.Headers = map[string]string{"Authorization": o.JWT(t, env.App), "Content-Type": ct}
				return env.App
			}
			s.Test(t)
		}
	}
}

// TestKeyFieldsFailClosedInBatch: batch sub-requests are refused the same
// way, and the whole batch is rolled back.
func TestKeyFieldsFailClosedInBatch(t *testing.T) {
	for _, o := range hookstest.Owners {
		for _, c := range []struct{ sub, want string }{
			{`{"method":"POST","url":"/api/collections/api_keys/records","body":{"label":"x","read_onyl":true}}`, `"read_onyl":{"code":"validation_unknown_field"`},
			{`{"method":"POST","url":"/api/collections/api_keys/records","body":{"label":"x","replaced_by":"k2bob0000000001"}}`, `"replaced_by":{"code":"validation_server_managed"`},
			{`{"method":"PUT","url":"/api/collections/api_keys/records","body":{"label":"x","last_used_ip":"6.6.6.6"}}`, `"last_used_ip":{"code":"validation_server_managed"`},
			{`{"method":"PATCH","url":"/api/collections/api_keys/records/` + o.KeyID + `","body":{"label":"x","last_used":"2020-01-01 00:00:00.000Z"}}`, `"last_used":{"code":"validation_server_managed"`},
		} {
			sub := c.sub
			s := tests.ApiScenario{
				Name:   o.Kind + ": batch " + sub,
				Method: http.MethodPost,
				URL:    "/api/batch",
				Body: strings.NewReader(`{"requests":[
					{"method":"PATCH","url":"` + o.NoteURL() + `","body":{"title":"renamed in the batch"}},` + sub + `]}`),
				BeforeTestFunc:     enableBatch,
				ExpectedStatus:     400,
				ExpectedContent:    []string{c.want},
				NotExpectedContent: []string{`"key":"`},
				AfterTestFunc: func(t testing.TB, app *tests.TestApp, _ *http.Response) {
					expectKeyUnchanged(t, app, o)
					note, err := app.FindRecordById(hookstest.NotesCollection, o.NoteID)
					if err != nil || note.GetString("title") != o.NoteTitle {
						t.Errorf("the batch was not rolled back: %v %q", err, note.GetString("title"))
					}
				},
			}
			s.TestAppFactory = func(t testing.TB) *tests.TestApp {
				env := o.New(t)
				s.Headers = map[string]string{"Authorization": o.JWT(t, env.App)}
				return env.App
			}
			s.Test(t)
		}
	}
}

// expectKeyUnchanged checks o's fixture key is as the fixture made it.
func expectKeyUnchanged(t testing.TB, app core.App, o hookstest.Owner) {
	t.Helper()
	r, err := app.FindRecordById(keystore.Collection, o.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{keystore.FieldReplacedBy, keystore.FieldLastUsed, keystore.FieldDisabled} {
		if !r.GetDateTime(f).IsZero() || (f != keystore.FieldLastUsed && r.GetString(f) != "" && r.GetString(f) != "false") {
			t.Errorf("%s of the fixture key changed to %q", f, r.GetString(f))
		}
	}
	if r.GetString(keystore.FieldLabel) != o.KeyLabel {
		t.Errorf("label changed to %q", r.GetString(keystore.FieldLabel))
	}
}

func countOwned(keys []*core.Record, o hookstest.Owner) int {
	n := 0
	for _, k := range keys {
		if k.GetString(keystore.FieldOwner) == o.ID {
			n++
		}
	}
	return n
}
