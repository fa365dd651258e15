package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

// refusedField checks that res is the 400 page naming field, without the
// value that came with it.
func refusedField(t *testing.T, what string, res *pagestest.Response, field, value string) {
	t.Helper()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("%s: %d, want 400", what, res.StatusCode)
	}
	if !strings.Contains(res.Body, "This form has a field that this page does not know: \u201c"+field+"\u201d. Nothing was changed.") {
		t.Errorf("%s: the page does not name %q:\n%s", what, field, res.Body)
	}
	if strings.Contains(res.Body, value) || pagestest.RevealedKey(res.Body) != "" {
		t.Errorf("%s: the page shows the field's value or a key", what)
	}
}

// TestKeyFormsRefuseUnknownFields: a form posted with a field it does not
// have (a misspelt "acess") creates, rolls or changes nothing and says
// which field; the same form without it then works, its one-time nonce
// still unused.
func TestKeyFormsRefuseUnknownFields(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	const value = "a value never shown"

	// Create: nothing created, then the same form works.
	create := newKeyForm(t, c, "typo")
	create.Set("perm.notes", "read")
	create.Set("acess", value)
	refusedField(t, "create", c.Post(pagestest.Paths.Keys, create), "acess", value)
	if n := countKeys(t, srv, hookstest.AliceID); n != 1 {
		t.Fatalf("Alice has %d keys after a refused form, want 1", n)
	}
	create.Del("acess")
	create.Set("access", "custom")
	res := c.Post(pagestest.Paths.Keys, create)
	if res.StatusCode != http.StatusOK || pagestest.RevealedKey(res.Body) == "" {
		t.Fatalf("the form without the unknown field: %d", res.StatusCode)
	}

	// Roll: not rolled, then the same form rolls.
	roll := rollForm(t, c, hookstest.AliceKeyID, "now")
	roll.Set("expires", value)
	refusedField(t, "roll", c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), roll), "expires", value)
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != http.StatusOK {
		t.Fatalf("the key after a refused roll: %d, want 200", code)
	}
	roll.Del("expires")
	if res := c.Post(pagestest.Paths.Roll(hookstest.AliceKeyID), roll); res.StatusCode != http.StatusOK || pagestest.RevealedKey(res.Body) == "" {
		t.Fatalf("the roll form without the unknown field: %d", res.StatusCode)
	}

	// The other key forms: nothing changes.
	csrf := pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")
	issued, _, err := srv.Env.Store.Issue(srv.Env.Alice(t), keystore.Options{Label: "kept"}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		pagestest.Paths.Disable(issued.Id), pagestest.Paths.Enable(issued.Id),
		pagestest.Paths.Revoke(issued.Id), pagestest.Paths.RevokeAll,
		pagestest.Paths.Access(issued.Id),
	} {
		form := url.Values{"csrf": {csrf}, "label": {value}}
		refusedField(t, path, c.Post(path, form), "label", value)
	}
	// The permission editor's rows are fields of its forms only.
	for _, path := range []string{
		pagestest.Paths.Disable(issued.Id), pagestest.Paths.Enable(issued.Id),
		pagestest.Paths.Revoke(issued.Id), pagestest.Paths.RevokeAll,
	} {
		form := url.Values{"csrf": {csrf}, "perm.notes": {"write"}}
		refusedField(t, path, c.Post(path, form), "perm.notes", "write")
	}
	record, err := srv.Env.Store.Find(issued.Id)
	if err != nil || record.GetBool(keystore.FieldDisabled) || record.GetString(keystore.FieldLabel) != "kept" {
		t.Fatalf("a refused form changed or revoked the key: %v", err)
	}

	// The owner is for an administrator's forms only (admin_test.go posts
	// them); an owner's forms have no such field.
	owner := newKeyForm(t, c, "for Bob")
	owner.Set(keystore.FieldOwner, hookstest.BobEmail)
	refusedField(t, "create with an owner", c.Post(pagestest.Paths.Keys, owner), keystore.FieldOwner, hookstest.BobEmail)
	revokeAll := url.Values{"csrf": {csrf}, "owner": {"users/" + hookstest.BobID}}
	refusedField(t, "revoke all with an owner", c.Post(pagestest.Paths.RevokeAll, revokeAll), "owner", hookstest.BobID)
	if n := countKeys(t, srv, hookstest.AliceID); n != 4 || countKeys(t, srv, hookstest.BobID) != 1 {
		t.Fatalf("refused forms changed who has keys: Alice %d, want 4 (the fixture's, created, rolled, issued)", n)
	}

	// A name is shown as text, cut short.
	markup := newKeyForm(t, c, "markup")
	markup.Set(`<b>x</b>`+strings.Repeat("y", 100), "1")
	res = c.Post(pagestest.Paths.Keys, markup)
	if res.StatusCode != http.StatusBadRequest || strings.Contains(res.Body, "<b>x</b>") ||
		!strings.Contains(res.Body, "&lt;b&gt;x&lt;/b&gt;"+strings.Repeat("y", 32)+"…") {
		t.Errorf("a field name with markup: %d\n%s", res.StatusCode, res.Body)
	}
}
