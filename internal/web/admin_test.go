package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/web"
)

// signedInAdmin starts a server with service accounts and returns a client
// signed in as the fixture's superuser.
func signedInAdmin(t *testing.T) (*pagestest.Server, *pagestest.Client) {
	t.Helper()
	srv := pagestest.StartWith(t, hookstest.ServiceAccounts)
	c := srv.Client(t)
	c.Login(hookstest.SuperuserEmail, hookstest.Password)
	return srv, c
}

// adminKeyForm opens the New API key page and returns its form, for owner.
func adminKeyForm(t *testing.T, c *pagestest.Client, label, collection, owner string) url.Values {
	t.Helper()
	form := newKeyForm(t, c, label)
	form.Set("owner_collection", collection)
	form.Set("owner", owner)
	return form
}

func botKeys(t *testing.T, srv *pagestest.Server) []*core.Record {
	t.Helper()
	records, err := srv.Env.Store.List(hookstest.BotOwner.Record(t, srv.Env))
	if err != nil {
		t.Fatal(err)
	}
	return records
}

func TestSuperuserSignsInAndSeesEveryOwnersKeys(t *testing.T) {
	t.Parallel()
	srv, c := signedInAdmin(t)
	res := c.Get(pagestest.Paths.Keys)
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("list: %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	for _, want := range []string{
		`data-testid="admin-badge"`, hookstest.SuperuserEmail,
		hookstest.AliceKeyID, hookstest.BobKeyID, hookstest.BotKeyID,
		hookstest.AliceEmail, hookstest.BotEmail, ">service_accounts<", ">users<",
		`name="owner_collection"`, `data-testid="filter-owner"`,
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the admin's list lacks %q", want)
		}
	}
	// every owner's keys, but "Revoke all" only once the list is one owner's
	if strings.Contains(res.Body, `data-testid="revoke-all"`) {
		t.Error("Revoke all offered over every owner's keys")
	}
	if n, _ := srv.Env.App.CountRecords(keystore.Collection); n != 3 {
		t.Fatalf("%d keys after listing, want the fixture's 3", n)
	}
}

func TestSuperuserCreatesAKeyForAServiceAccount(t *testing.T) {
	t.Parallel()
	srv, c := signedInAdmin(t)
	form := adminKeyForm(t, c, "Nightly deploy", hookstest.ServiceAccountsCollection, hookstest.BotEmail)
	res := c.Post(pagestest.Paths.Keys, form)
	if res.StatusCode != 200 {
		t.Fatalf("create: %d\n%s", res.StatusCode, res.Body)
	}
	key, err := apikey.Parse(pagestest.RevealedKey(res.Body))
	if err != nil {
		t.Fatalf("no key revealed: %v", err)
	}
	if !strings.Contains(res.Body, "service_accounts/"+hookstest.BotEmail) || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the reveal does not name the owner, or may be cached")
	}
	record, owner, err := srv.Env.Store.FindWithOwner(key.ID)
	if err != nil || owner.Id != hookstest.BotID || record.GetString(keystore.FieldLabel) != "Nightly deploy" {
		t.Fatalf("the key belongs to %v (%v)", owner, err)
	}
	if code := srv.APIGet(t, hookstest.BotOwner.NoteURL(), key.String()); code != 200 {
		t.Fatalf("the service account's new key: %d", code)
	}

	// the same form again creates no second key, and never shows one again
	again := c.Post(pagestest.Paths.Keys, form)
	if again.StatusCode != http.StatusSeeOther || strings.Contains(again.Body, key.Secret) {
		t.Fatalf("resubmitted form: %d", again.StatusCode)
	}
	if n := len(botKeys(t, srv)); n != 2 {
		t.Fatalf("the bot has %d keys, want its fixture key and the new one", n)
	}
}

func TestSuperuserNamesTheOwner(t *testing.T) {
	t.Parallel()
	srv, c := signedInAdmin(t)
	for _, tc := range []struct {
		collection, owner, want string
	}{
		{hookstest.ServiceAccountsCollection, "", "Enter the email or record id of the key\u2019s owner."},
		{hookstest.ServiceAccountsCollection, "nobody@example.com", "There is no record with the email \u201cnobody@example.com\u201d in the service_accounts collection."},
		{"users", hookstest.BotID, "There is no record with the id \u201c" + hookstest.BotID + "\u201d in the users collection."},
		// superusers never own keys, whatever the form says
		{core.CollectionNameSuperusers, hookstest.SuperuserEmail, "\u0026#34;_superusers\u0026#34; is not a collection whose records own keys."},
		{"notes", hookstest.AliceNoteID, "\u0026#34;notes\u0026#34; is not a collection whose records own keys."},
	} {
		res := c.Post(pagestest.Paths.Keys, adminKeyForm(t, c, "x", tc.collection, tc.owner))
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.Body, tc.want) || pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("owner %s/%q: %d, want 400 saying %q\n%s", tc.collection, tc.owner, res.StatusCode, tc.want, res.Body)
		}
		// what was typed is kept
		if pagestest.InputValue(res.Body, "label") != "x" || pagestest.InputValue(res.Body, "owner") != tc.owner {
			t.Errorf("owner %s/%q: the form lost what was typed", tc.collection, tc.owner)
		}
	}
	if n, _ := srv.Env.App.CountRecords(keystore.Collection); n != 3 {
		t.Fatalf("%d keys, want the fixture's 3", n)
	}
}

func TestSuperuserManagesAnyKey(t *testing.T) {
	t.Parallel()
	srv, c := signedInAdmin(t)
	p := pagestest.Paths
	csrf := pagestest.InputValue(c.Get(p.Keys).Body, "csrf")
	post := func(path string, extra url.Values) *pagestest.Response {
		form := url.Values{"csrf": {csrf}}
		for k, v := range extra {
			form[k] = v
		}
		return c.Post(path, form)
	}
	note := hookstest.BotOwner.NoteURL()

	if res := post(p.Disable(hookstest.BotKeyID), url.Values{"return": {p.Keys + "?page=1&state=active"}}); res.StatusCode != http.StatusSeeOther || res.Location() != p.Keys+"?page=1&state=active" {
		t.Fatalf("disable: %d → %s", res.StatusCode, res.Location())
	}
	if code := srv.APIGet(t, note, hookstest.BotKey); code != 401 {
		t.Fatalf("disabled key: %d", code)
	}
	// a return address off the list is not followed
	if res := post(p.Enable(hookstest.BotKeyID), url.Values{"return": {"https://evil.example/api-keys"}}); res.StatusCode != http.StatusSeeOther || res.Location() != p.Keys {
		t.Fatalf("enable: %d → %s", res.StatusCode, res.Location())
	}
	if code := srv.APIGet(t, note, hookstest.BotKey); code != 200 {
		t.Fatalf("enabled key: %d", code)
	}

	// roll, as on the page without JavaScript
	page := c.Get(p.Roll(hookstest.BotKeyID))
	if page.StatusCode != 200 {
		t.Fatalf("roll page: %d", page.StatusCode)
	}
	res := post(p.Roll(hookstest.BotKeyID), url.Values{"grace": {"now"}, "nonce": {pagestest.InputValue(page.Body, "nonce")}})
	rolled, err := apikey.Parse(pagestest.RevealedKey(res.Body))
	if res.StatusCode != 200 || err != nil {
		t.Fatalf("roll: %d %v", res.StatusCode, err)
	}
	if _, owner, err := srv.Env.Store.FindWithOwner(rolled.ID); err != nil || owner.Id != hookstest.BotID {
		t.Fatalf("the rolled key belongs to %v (%v)", owner, err)
	}
	if srv.APIGet(t, note, rolled.String()) != 200 || srv.APIGet(t, note, hookstest.BotKey) != 401 {
		t.Fatal("after rolling now, the new key should work and the old one not")
	}

	// revoke someone else's key: Alice's
	if res := post(p.Revoke(hookstest.AliceKeyID), nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey) != 401 {
		t.Fatal("the revoked key still works")
	}

	// unknown ids are 404, for every action
	for path, fields := range map[string]url.Values{
		p.Disable("zzzzzzzzzzzzzzz"): nil, p.Enable("zzzzzzzzzzzzzzz"): nil, p.Revoke("zzzzzzzzzzzzzzz"): nil,
		p.Roll("zzzzzzzzzzzzzzz"): {"grace": {"now"}},
	} {
		if res := post(path, fields); res.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, res.StatusCode)
		}
	}
	for _, path := range []string{p.Revoke("zzzzzzzzzzzzzzz"), p.Roll("zzzzzzzzzzzzzzz")} {
		if res := c.Get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	// and no form is taken without the session's token
	if res := c.Post(p.Disable(hookstest.BobKeyID), url.Values{"csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged form: %d", res.StatusCode)
	}
	if res := c.Post(p.Disable(hookstest.BobKeyID), url.Values{"csrf": {csrf}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site form: %d", res.StatusCode)
	}
}

func TestSuperuserFiltersByOwnerAndRevokesTheirKeys(t *testing.T) {
	t.Parallel()
	srv, c := signedInAdmin(t)
	p := pagestest.Paths
	bot := p.Keys + "?collection=service_accounts&owner=" + url.QueryEscape(hookstest.BotEmail)
	res := c.Get(bot)
	if res.StatusCode != 200 || !strings.Contains(res.Body, hookstest.BotKeyID) || strings.Contains(res.Body, hookstest.AliceKeyID) {
		t.Fatalf("the bot's keys: %d\n%s", res.StatusCode, res.Body)
	}
	if !strings.Contains(res.Body, "Revoke all of "+hookstest.BotEmail) {
		t.Fatal("no Revoke all for the owner the list is filtered to")
	}
	// the New API key dialog is for that owner
	if pagestest.InputValue(res.Body, "owner") != hookstest.BotEmail {
		t.Errorf("the New API key form is not for the bot: %q", pagestest.InputValue(res.Body, "owner"))
	}

	ref := url.Values{"owner": {hookstest.ServiceAccountsCollection + "/" + hookstest.BotID}}
	confirm := c.Get(p.RevokeAll + "?" + ref.Encode())
	if confirm.StatusCode != 200 || !strings.Contains(confirm.Body, "Revoke all 1 API keys of service_accounts/"+hookstest.BotEmail) {
		t.Fatalf("confirmation: %d\n%s", confirm.StatusCode, confirm.Body)
	}
	// the confirmation's form, as a browser posts it
	if !strings.Contains(confirm.Body, `action="`+p.RevokeAll+`"`) || pagestest.InputValue(confirm.Body, "owner") != ref.Get("owner") {
		t.Fatalf("the confirmation's form does not post the owner:\n%s", confirm.Body)
	}
	done := c.Post(p.RevokeAll, url.Values{"csrf": {pagestest.InputValue(confirm.Body, "csrf")}, "owner": {pagestest.InputValue(confirm.Body, "owner")}})
	if done.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke all: %d", done.StatusCode)
	}
	if len(botKeys(t, srv)) != 0 || countKeys(t, srv, hookstest.AliceID) != 1 || countKeys(t, srv, hookstest.BobID) != 1 {
		t.Fatal("Revoke all took other owners' keys, or left the bot's")
	}
	// without an owner, an admin's "Revoke all" revokes nothing
	if res := c.Post(p.RevokeAll, url.Values{"csrf": {pagestest.InputValue(confirm.Body, "csrf")}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("revoke all without an owner: %d", res.StatusCode)
	}
	if countKeys(t, srv, hookstest.AliceID) != 1 {
		t.Fatal("Alice's key went")
	}

	// an owner that does not exist: said, and no keys listed
	res = c.Get(p.Keys + "?owner=" + url.QueryEscape("nobody@example.com"))
	if !strings.Contains(res.Body, `data-testid="owner-error"`) || strings.Contains(res.Body, hookstest.AliceKeyID) {
		t.Fatalf("unknown owner filter:\n%s", res.Body)
	}
}

// Records of a second owner collection that sign in with a password see
// their own keys, as users do; a service account (password sign-in off)
// cannot sign in at all.
func TestOtherOwnerCollectionsSignIn(t *testing.T) {
	t.Parallel()
	srv := pagestest.StartWith(t, hookstest.ServiceAccounts)
	sa, err := srv.Env.App.FindCollectionByNameOrId(hookstest.ServiceAccountsCollection)
	if err != nil {
		t.Fatal(err)
	}
	bot, _ := srv.Env.App.FindRecordById(sa, hookstest.BotID)
	bot.SetPassword(hookstest.Password)
	if err := srv.Env.App.Save(bot); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	res := c.Post(pagestest.Paths.Login, url.Values{"email": {hookstest.BotEmail}, "password": {hookstest.Password}})
	if res.StatusCode != http.StatusBadRequest || c.Cookie(web.SessionCookie) != "" {
		t.Fatalf("a service account signed in with password sign-in off: %d", res.StatusCode)
	}

	sa.PasswordAuth.Enabled = true
	if err := srv.Env.App.Save(sa); err != nil {
		t.Fatal(err)
	}
	c.Login(hookstest.BotEmail, hookstest.Password)
	list := c.Get(pagestest.Paths.Keys)
	if !strings.Contains(list.Body, hookstest.BotKeyID) || strings.Contains(list.Body, hookstest.AliceKeyID) || strings.Contains(list.Body, `data-testid="admin-badge"`) {
		t.Fatalf("the bot's own list:\n%s", list.Body)
	}
	if res := c.Post(pagestest.Paths.Keys, newKeyForm(t, c, "self-made")); res.StatusCode != 200 || pagestest.RevealedKey(res.Body) == "" {
		t.Fatalf("the bot creates its own key: %d", res.StatusCode)
	}
	if n := len(botKeys(t, srv)); n != 2 {
		t.Fatalf("the bot has %d keys", n)
	}
	// and manages only its own
	if res := c.Post(pagestest.Paths.Revoke(hookstest.AliceKeyID), url.Values{"csrf": {pagestest.InputValue(list.Body, "csrf")}}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the bot revoking Alice's key: %d", res.StatusCode)
	}
}

// A person with a superuser account and a user account under one email
// and password signs in as the superuser, whose view includes every key.
func TestSuperuserAccountComesFirst(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	users, _ := srv.Env.App.FindCollectionByNameOrId("users")
	u := core.NewRecord(users)
	u.SetEmail(hookstest.SuperuserEmail)
	u.SetPassword(hookstest.Password)
	u.SetVerified(true)
	if err := srv.Env.App.Save(u); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	c.Login(hookstest.SuperuserEmail, hookstest.Password)
	if res := c.Get(pagestest.Paths.Keys); !strings.Contains(res.Body, `data-testid="admin-badge"`) {
		t.Fatal("signed in as the user, not the superuser")
	}
	// with the user's own password (a different one), as the user
	u.SetPassword("the user's own password")
	if err := srv.Env.App.Save(u); err != nil {
		t.Fatal(err)
	}
	c2 := srv.Client(t)
	c2.Login(hookstest.SuperuserEmail, "the user's own password")
	if res := c2.Get(pagestest.Paths.Keys); strings.Contains(res.Body, `data-testid="admin-badge"`) || strings.Contains(res.Body, hookstest.AliceKeyID) {
		t.Fatal("the user's password signed in as the superuser")
	}
}
