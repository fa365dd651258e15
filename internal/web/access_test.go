package web_test

import (
	"html"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

var (
	inputTag   = regexp.MustCompile(`<input[^>]*>`)
	checkedRe  = regexp.MustCompile(`\schecked[\s/>]`)
	valueRe    = regexp.MustCompile(`\bvalue="([^"]*)"`)
	permRowRe  = regexp.MustCompile(`<input type="radio" name="perm\.([^"]*)" value="none"`)
	legendRe   = regexp.MustCompile(`<fieldset class="perm-row"[^>]*>\s*<legend>([^<]*)</legend>`)
	textareaRe = regexp.MustCompile(`(?s)<textarea[^>]*\bname="([^"]*)"[^>]*>(.*?)</textarea>`)
)

// checkedValue returns the value of the checked radio button named name in
// page, or "" when none is checked.
func checkedValue(page, name string) string {
	for _, tag := range inputTag.FindAllString(page, -1) {
		if strings.Contains(tag, ` name="`+html.EscapeString(name)+`"`) && checkedRe.MatchString(tag) {
			if m := valueRe.FindStringSubmatch(tag); m != nil {
				return html.UnescapeString(m[1])
			}
		}
	}
	return ""
}

// textareaValue returns the text of the first textarea named name in page.
func textareaValue(page, name string) string {
	for _, m := range textareaRe.FindAllStringSubmatch(page, -1) {
		if html.UnescapeString(m[1]) == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// permRows returns the names of the permission editor's rows in page (a
// collection's name, "*" or "@routes"), in order, and their legends.
func permRows(page string) (names, legends []string) {
	for _, m := range permRowRe.FindAllStringSubmatch(page, -1) {
		names = append(names, html.UnescapeString(m[1]))
	}
	for _, m := range legendRe.FindAllStringSubmatch(page, -1) {
		legends = append(legends, html.UnescapeString(m[1]))
	}
	return names, legends
}

// apiStatus calls the REST API with key and returns the status.
func apiStatus(t *testing.T, srv *pagestest.Server, method, path, key, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// storedPermissions returns key id's permissions field as stored.
func storedPermissions(t *testing.T, srv *pagestest.Server, id string) string {
	t.Helper()
	record, err := srv.Env.Store.Find(id)
	if err != nil {
		t.Fatal(err)
	}
	return record.GetString(keystore.FieldPermissions)
}

// TestPermissionRowsAreTheScopableCollections: the New API key page, the
// list's dialogs (New API key and Roll), the Roll page and the Permissions
// page offer a row for exactly the collections a key may be given (the
// keystore's one definition), then the other collections and the app's
// routes, to owners and administrators alike: never pbkeys' own
// collections nor PocketBase's system ones.
func TestPermissionRowsAreTheScopableCollections(t *testing.T) {
	t.Parallel()
	srv, alice := signedIn(t)
	admin := srv.Client(t)
	admin.Login(hookstest.SuperuserEmail, hookstest.Password)
	scopable, err := keystore.ScopableCollections(srv.Env.App)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range scopable {
		want = append(want, c.Name)
	}
	for _, own := range []string{"users", hookstest.NotesCollection, hookstest.SecretsCollection, hookstest.CommentsCollection} {
		if !slices.Contains(want, own) {
			t.Fatalf("%s is not scopable: %v", own, want)
		}
	}
	wantLegends := append(slices.Clone(want), "Other collections, including ones created later", "Routes the app adds")
	want = append(want, permissions.Others, permissions.Routes)
	for who, c := range map[string]*pagestest.Client{"owner": alice, "administrator": admin} {
		for _, path := range []string{
			pagestest.Paths.NewKey, pagestest.Paths.Keys,
			pagestest.Paths.Roll(hookstest.AliceKeyID), pagestest.Paths.Access(hookstest.AliceKeyID),
		} {
			page := c.Get(path)
			if page.StatusCode != 200 {
				t.Fatalf("%s, %s: %d", who, path, page.StatusCode)
			}
			names, legends := permRows(page.Body)
			forms := 1
			if path == pagestest.Paths.Keys {
				forms = 2 // the New API key and the Roll dialogs
			}
			if n := len(want); len(names) != forms*n || !slices.Equal(names[:n], want) || !slices.Equal(names[len(names)-n:], want) {
				t.Errorf("%s, %s: rows %v, want %d× %v", who, path, names, forms, want)
			}
			if !slices.Equal(legends[:len(wantLegends)], wantLegends) {
				t.Errorf("%s, %s: legends %v, want %v", who, path, legends, wantLegends)
			}
			for _, never := range []string{keystore.Collection, keystore.UsageCollection, "_superusers", "_mfas", "_otps", "_externalAuths", "_authOrigins"} {
				if strings.Contains(page.Body, `"perm.`+never+`"`) {
					t.Errorf("%s, %s offers %s", who, path, never)
				}
			}
		}
	}
}

// TestCreateKeyPermissions: what the editor says is what the key stores
// and what it may then do over REST.
func TestCreateKeyPermissions(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)

	// The form starts at full access, every row at None.
	page := c.Get(pagestest.Paths.NewKey).Body
	if checkedValue(page, "access") != "full" || checkedValue(page, "perm.notes") != "none" || checkedValue(page, "perm.@routes") != "none" {
		t.Error("the form does not start at full access with every row at None")
	}
	for _, want := range []string{"Full access (everything you can do)", "Only what I choose", "<legend>Access</legend>",
		"<legend>notes</legend>", "<legend>Other collections, including ones created later</legend>", "<legend>Routes the app adds</legend>",
		`<label for="allowed-ips">Allowed addresses <span class="optional">(optional)</span></label>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the form lacks %s", want)
		}
	}

	// Read notes, write secrets: stored exactly so, and so it works.
	res := createWith(t, c, "reads notes, writes secrets", url.Values{
		"access": {"custom"}, "perm.notes": {"read"}, "perm.secrets": {"write"}, "perm.comments": {"none"},
		"perm.*": {"none"}, "perm.@routes": {"none"},
	})
	key, opts := revealedOptions(t, srv, res)
	if want := (permissions.Set{"notes": permissions.Read, "secrets": permissions.Write}); !maps.Equal(opts.Permissions, want) {
		t.Errorf("stored %v, want %v", opts.Permissions, want)
	}
	if got := storedPermissions(t, srv, key.ID); got != `{"notes":"read","secrets":"write"}` {
		t.Errorf("permissions field %s", got)
	}
	secretPath := "/api/collections/" + hookstest.SecretsCollection + "/records/" + hookstest.AliceSecretID
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, pagestest.AliceNotePath, "", 200},
		{http.MethodPatch, pagestest.AliceNotePath, `{"title":"changed"}`, 403},
		{http.MethodGet, secretPath, "", 200},
		{http.MethodPatch, secretPath, `{"title":"changed"}`, 200},
		{http.MethodGet, "/api/collections/" + hookstest.CommentsCollection + "/records/" + hookstest.AliceCommentID, "", 403},
	} {
		if code := apiStatus(t, srv, tc.method, tc.path, key.String(), tc.body); code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}
	if list := c.Get(pagestest.Paths.Keys).Body; !strings.Contains(list, `data-testid="key-scope">Write secrets; read notes</span>`) {
		t.Error("the list does not show the key's scope")
	}

	// The other collections and the app's routes; a collection below them.
	// Rows not sent are at None, like a radio group left as it was; a
	// collection at the other collections' level is one of them.
	_, opts = revealedOptions(t, srv, createWith(t, c, "all but comments", url.Values{
		"access": {"custom"}, "perm.*": {"read"}, "perm.comments": {"none"}, "perm.notes": {"read"}, "perm.@routes": {"write"},
	}))
	if want := (permissions.Set{permissions.Others: permissions.Read, "comments": permissions.None, "secrets": permissions.None,
		"users": permissions.None, permissions.Routes: permissions.Write}); !maps.Equal(opts.Permissions, want) {
		t.Errorf("stored %v, want %v", opts.Permissions, want)
	}

	// Full access, chosen or by default, and rows left as they were: null.
	for _, fields := range []url.Values{
		{"access": {"full"}, "perm.notes": {"read"}},
		{},
	} {
		key, opts := revealedOptions(t, srv, createWith(t, c, "full", fields))
		if !opts.Permissions.Full() || opts.AllowedIPs != nil {
			t.Errorf("%v: stored %v from %v", fields, opts.Permissions, opts.AllowedIPs)
		}
		if got := storedPermissions(t, srv, key.ID); got != "null" {
			t.Errorf("%v: permissions field %q, want null", fields, got)
		}
	}
	keys := countKeys(t, srv, hookstest.AliceID)

	// Refused inline, with everything kept.
	for _, tc := range []struct {
		name    string
		fields  url.Values
		message string
	}{
		{"nothing chosen", url.Values{"access": {"custom"}, "perm.notes": {"none"}}, "Choose Read or Write for at least one row, or choose “Full access”."},
		{"no row sent", url.Values{"access": {"custom"}}, "Choose Read or Write for at least one row"},
		{"unknown level", url.Values{"access": {"custom"}, "perm.notes": {"admin"}}, "Choose None, Read or Write for “notes”."},
		{"unknown routes level", url.Values{"access": {"custom"}, "perm.@routes": {"all"}}, "Choose None, Read or Write for “Routes the app adds”."},
		{"unknown choice", url.Values{"access": {"some"}}, "Choose “Full access” or “Only what I choose”."},
	} {
		tc.fields.Set("rate_limit", "60")
		res := createWith(t, c, "kept", tc.fields)
		if res.StatusCode != http.StatusBadRequest || pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, `data-testid="permissions-error">`+html.EscapeString(tc.message)) {
			t.Errorf("%s: no inline %q", tc.name, tc.message)
		}
		if !strings.Contains(res.Body, `aria-describedby="access-error"`) {
			t.Errorf("%s: the message is not tied to the choice", tc.name)
		}
		if pagestest.InputValue(res.Body, "label") != "kept" || pagestest.InputValue(res.Body, "rate_limit") != "60" {
			t.Errorf("%s: typed values not kept", tc.name)
		}
		if tc.fields.Get("access") == "custom" && checkedValue(res.Body, "access") != "custom" {
			t.Errorf("%s: the choice is not kept", tc.name)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != keys {
		t.Errorf("refused forms created %d keys", n-keys)
	}
}

// TestPermissionRowsNotOffered: a row for a collection the form does not
// offer (pbkeys' own, a system one, one that does not exist) is not a
// field of the form: 400 naming it, nothing created, the nonce unused.
func TestPermissionRowsNotOffered(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	for _, name := range []string{keystore.Collection, keystore.UsageCollection, "_superusers", "nosuch", "Notes", "*x", "@other", ""} {
		form := newKeyForm(t, c, "not offered")
		form.Set("access", "custom")
		form.Set("perm.notes", "read")
		form.Set("perm."+name, "read")
		refusedField(t, "perm."+name, c.Post(pagestest.Paths.Keys, form), "perm."+name, "never shown")
		if name == "nosuch" {
			form.Del("perm." + name)
			if res := c.Post(pagestest.Paths.Keys, form); res.StatusCode != 200 || pagestest.RevealedKey(res.Body) == "" {
				t.Fatalf("the same form without the row: %d", res.StatusCode)
			}
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 2 {
		t.Errorf("Alice has %d keys, want 2", n)
	}
	// Misspelt names of the editor's fields.
	for _, name := range []string{"perms.notes", "perm", "acess", "allowed_ip"} {
		form := newKeyForm(t, c, "misspelt")
		form.Set(name, "read")
		refusedField(t, name, c.Post(pagestest.Paths.Keys, form), name, "never shown")
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 2 {
		t.Errorf("Alice has %d keys, want 2", n)
	}
}

func TestCreateKeyAllowedAddresses(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)

	// One a line, commas too, spaces around, duplicates once.
	_, opts := revealedOptions(t, srv, createWith(t, c, "office", url.Values{
		"allowed_ips": {" 10.0.0.0/8\r\n203.0.113.7, 2001:db8::/32\r\n\r\n10.0.0.0/8\r\n"},
	}))
	want := addrlist.List{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(opts.AllowedIPs, want) || !opts.Permissions.Full() {
		t.Errorf("stored %v (%v), want %v", opts.AllowedIPs, opts.Permissions, want)
	}
	if list := c.Get(pagestest.Paths.Keys).Body; !strings.Contains(list, `data-testid="key-scope">Full access · from 10.0.0.0/8, 203.0.113.7, 2001:db8::/32</span>`) {
		t.Error("the list does not show the addresses")
	}
	// Empty: any address.
	_, opts = revealedOptions(t, srv, createWith(t, c, "anywhere", url.Values{"allowed_ips": {" \r\n "}}))
	if opts.AllowedIPs != nil {
		t.Errorf("blank addresses stored %v", opts.AllowedIPs)
	}
	keys := countKeys(t, srv, hookstest.AliceID)

	for _, tc := range []struct {
		name, typed, message string
	}{
		{"host bits", "10.0.0.1/8", `"10.0.0.1/8" has bits set after its /8`}, // and names 10.0.0.0/8
		{"not an address", "10.0.0.0/8\nlocalhost", `"localhost" is neither an address nor a CIDR range.`},
		{"bad range", "10.0.0.0/33", `"10.0.0.0/33" is not a CIDR range like 10.0.0.0/8 or 2001:db8::/32.`},
		{"several", "a b c d e", `"a" is neither an address nor a CIDR range. "b" is neither`},
		{"too many", manyAddresses(51), "Enter at most 50 addresses or ranges (there are 51)."},
	} {
		res := createWith(t, c, "kept", url.Values{"allowed_ips": {tc.typed}, "access": {"custom"}, "perm.notes": {"read"}})
		if res.StatusCode != http.StatusBadRequest || pagestest.RevealedKey(res.Body) != "" {
			t.Errorf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(res.Body, `data-testid="allowed-ips-error">`+html.EscapeString(tc.message)) {
			t.Errorf("%s: no inline %q", tc.name, tc.message)
		}
		if tc.name == "host bits" && !regexp.MustCompile(`has bits set after its /8[^<]*10\.0\.0\.0/8`).MatchString(res.Body) {
			t.Errorf("%s: the message does not say which range was meant", tc.name)
		}
		if !strings.Contains(res.Body, `aria-invalid="true" aria-describedby="allowed-ips-error allowed-ips-hint"`) {
			t.Errorf("%s: the message is not tied to the field", tc.name)
		}
		if textareaValue(res.Body, "allowed_ips") != tc.typed || checkedValue(res.Body, "perm.notes") != "read" {
			t.Errorf("%s: typed values not kept", tc.name)
		}
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != keys {
		t.Errorf("refused forms created %d keys", n-keys)
	}
}

// manyAddresses returns n distinct addresses, one a line.
func manyAddresses(n int) string {
	var lines []string
	for i := range n {
		lines = append(lines, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String())
	}
	return strings.Join(lines, "\n")
}

// TestAccessPage: a key's owner changes what it may do and where from on
// its Permissions page; the next request is held to it.
func TestAccessPage(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	path := pagestest.Paths.Access(hookstest.AliceKeyID)
	if path != "/api-keys/permissions/"+hookstest.AliceKeyID {
		t.Fatalf("the page is at %s", path)
	}
	// The list links to it.
	if list := c.Get(pagestest.Paths.Keys).Body; !strings.Contains(list, `href="`+path+`" aria-label="Permissions and addresses of `+hookstest.AliceKeyLabel+`"`) {
		t.Error("the list does not link to the key's Permissions page")
	}

	page := c.Get(path)
	if page.StatusCode != 200 {
		t.Fatalf("page: %d", page.StatusCode)
	}
	for _, want := range []string{"<title>Permissions and addresses · pbkeys</title>",
		"Permissions and addresses of ‘" + hookstest.AliceKeyLabel + "’", "now: Full access"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if checkedValue(page.Body, "access") != "full" || textareaValue(page.Body, "allowed_ips") != "" {
		t.Error("the page does not show full access from any address")
	}
	csrf := pagestest.InputValue(page.Body, "csrf")

	// Read notes only, from one range.
	res := c.Post(path, url.Values{"csrf": {csrf}, "access": {"custom"}, "perm.notes": {"read"}, "perm.secrets": {"none"},
		"allowed_ips": {"127.0.0.0/8\n::1"}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Keys {
		t.Fatalf("save: %d to %q\n%s", res.StatusCode, res.Location(), res.Body)
	}
	if got := storedPermissions(t, srv, hookstest.AliceKeyID); got != `{"notes":"read"}` {
		t.Errorf("permissions field %s", got)
	}
	record, _ := srv.Env.Store.Find(hookstest.AliceKeyID)
	if ips := keystore.OptionsOf(record).AllowedIPs.Strings(); !slices.Equal(ips, []string{"127.0.0.0/8", "::1"}) {
		t.Errorf("addresses %v", ips)
	}
	list := c.Get(pagestest.Paths.Keys).Body
	if !strings.Contains(list, "Saved what ‘"+hookstest.AliceKeyLabel+"’ may do: read notes · from 127.0.0.0/8, ::1. It applies from the key’s next request.") ||
		!strings.Contains(list, `data-testid="key-scope">Read notes · from 127.0.0.0/8, ::1</span>`) {
		t.Error("the list does not say what was saved")
	}
	if code := srv.APIGet(t, pagestest.AliceNotePath, hookstest.AliceKey); code != 200 {
		t.Errorf("read a note: %d", code)
	}
	if code := apiStatus(t, srv, http.MethodPatch, pagestest.AliceNotePath, hookstest.AliceKey, `{"title":"changed"}`); code != 403 {
		t.Errorf("change a note: %d, want 403", code)
	}

	// The page shows it back.
	page = c.Get(path)
	if checkedValue(page.Body, "access") != "custom" || checkedValue(page.Body, "perm.notes") != "read" ||
		checkedValue(page.Body, "perm.secrets") != "none" || checkedValue(page.Body, "perm.*") != "none" ||
		textareaValue(page.Body, "allowed_ips") != "127.0.0.0/8\n::1" {
		t.Error("the page does not show the saved permissions and addresses")
	}

	// Mistakes: shown on their field, with what was typed; nothing saved.
	res = c.Post(path, url.Values{"csrf": {csrf}, "access": {"custom"}, "perm.notes": {"none"}, "allowed_ips": {"10.0.0.1/8"}})
	if res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(res.Body, `data-testid="allowed-ips-error">&#34;10.0.0.1/8&#34; has bits set after its /8`) ||
		!strings.Contains(res.Body, `data-testid="permissions-error">Choose Read or Write for at least one row`) ||
		textareaValue(res.Body, "allowed_ips") != "10.0.0.1/8" || checkedValue(res.Body, "perm.notes") != "none" {
		t.Errorf("mistakes: %d\n%s", res.StatusCode, res.Body)
	}
	if got := storedPermissions(t, srv, hookstest.AliceKeyID); got != `{"notes":"read"}` {
		t.Errorf("a refused form changed the permissions to %s", got)
	}
	// Unknown fields and rows not offered: 400 naming them.
	refusedField(t, "label", c.Post(path, url.Values{"csrf": {csrf}, "access": {"full"}, "label": {"renamed"}}), "label", "renamed")
	refusedField(t, "perm.api_keys", c.Post(path, url.Values{"csrf": {csrf}, "access": {"custom"}, "perm.api_keys": {"write"}}), "perm.api_keys", "write")

	// Back to full access from any address: null, null.
	res = c.Post(path, url.Values{"csrf": {csrf}, "access": {"full"}, "perm.notes": {"read"}, "allowed_ips": {""}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("full access: %d", res.StatusCode)
	}
	record, _ = srv.Env.Store.Find(hookstest.AliceKeyID)
	if p, ips := record.GetString(keystore.FieldPermissions), keystore.OptionsOf(record).AllowedIPs; p != "null" || ips != nil {
		t.Errorf("full access from anywhere stored as %s, %v", p, ips)
	}
	if code := apiStatus(t, srv, http.MethodPatch, pagestest.AliceNotePath, hookstest.AliceKey, `{"title":"changed"}`); code != 200 {
		t.Errorf("change a note with full access: %d", code)
	}

	// Someone else's key and unknown ids: 404, nothing changes.
	for _, id := range []string{hookstest.BobKeyID, "doesnotexist123"} {
		if res := c.Get(pagestest.Paths.Access(id)); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", id, res.StatusCode)
		}
		res := c.Post(pagestest.Paths.Access(id), url.Values{"csrf": {csrf}, "access": {"custom"}, "perm.notes": {"read"}})
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d", id, res.StatusCode)
		}
	}
	if got := storedPermissions(t, srv, hookstest.BobKeyID); got != "null" {
		t.Errorf("Bob's key: %s", got)
	}

	// An administrator changes anyone's key.
	admin := srv.Client(t)
	admin.Login(hookstest.SuperuserEmail, hookstest.Password)
	page = admin.Get(pagestest.Paths.Access(hookstest.BobKeyID))
	if page.StatusCode != 200 {
		t.Fatalf("admin page: %d", page.StatusCode)
	}
	res = admin.Post(pagestest.Paths.Access(hookstest.BobKeyID), url.Values{
		"csrf": {pagestest.InputValue(page.Body, "csrf")}, "access": {"custom"}, "perm.notes": {"write"},
	})
	if res.StatusCode != http.StatusSeeOther || storedPermissions(t, srv, hookstest.BobKeyID) != `{"notes":"write"}` {
		t.Errorf("admin save: %d, %s", res.StatusCode, storedPermissions(t, srv, hookstest.BobKeyID))
	}
}

// TestRollPermissions: the Roll page starts from the old key's permissions
// and addresses; the new key gets what the form says, the old key keeps
// its own; a Roll form without the editor's fields keeps the old key's.
func TestRollPermissions(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	old, _, err := srv.Env.Store.Issue(srv.Env.Alice(t), keystore.Options{
		Label:       "scoped",
		Permissions: permissions.Set{"notes": permissions.Read, permissions.Others: permissions.Write},
		AllowedIPs:  addrlist.List{netip.MustParsePrefix("127.0.0.0/8")},
	}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	page := c.Get(pagestest.Paths.Roll(old.Id)).Body
	if checkedValue(page, "access") != "custom" || checkedValue(page, "perm.notes") != "read" ||
		checkedValue(page, "perm.secrets") != "write" || checkedValue(page, "perm.*") != "write" ||
		checkedValue(page, "perm.@routes") != "none" || textareaValue(page, "allowed_ips") != "127.0.0.0/8" {
		t.Error("the Roll page does not start from the old key's permissions and addresses")
	}

	// Sent as shown: the new key has the old one's.
	form := rollForm(t, c, old.Id, "1h")
	form.Set("access", "custom")
	for _, name := range []string{"notes", "secrets", "comments", "users", "*", "@routes"} {
		form.Set("perm."+name, checkedValue(page, "perm."+name))
	}
	form.Set("allowed_ips", "127.0.0.0/8")
	key, opts := revealedOptions(t, srv, c.Post(pagestest.Paths.Roll(old.Id), form))
	if got := storedPermissions(t, srv, key.ID); got != storedPermissions(t, srv, old.Id) || opts.AllowedIPs.Strings()[0] != "127.0.0.0/8" {
		t.Errorf("new key %s %v, old key %s", got, opts.AllowedIPs, storedPermissions(t, srv, old.Id))
	}

	// Changed: the new key gets them, the old key keeps its own.
	form = rollForm(t, c, key.ID, "1h")
	form.Set("access", "custom")
	for _, name := range []string{"secrets", "comments", "users", "*", "@routes"} {
		form.Set("perm."+name, "none")
	}
	form.Set("perm.notes", "write")
	form.Set("allowed_ips", "")
	newer, opts := revealedOptions(t, srv, c.Post(pagestest.Paths.Roll(key.ID), form))
	if got := storedPermissions(t, srv, newer.ID); got != `{"notes":"write"}` || opts.AllowedIPs != nil {
		t.Errorf("rolled with changes: %s from %v", got, opts.AllowedIPs)
	}
	if got := storedPermissions(t, srv, key.ID); got != `{"*":"write","notes":"read"}` {
		t.Errorf("the old key changed to %s", got)
	}
	if code := apiStatus(t, srv, http.MethodPatch, pagestest.AliceNotePath, newer.String(), `{"title":"changed"}`); code != 200 {
		t.Errorf("the new key writes a note: %d", code)
	}
	if code := apiStatus(t, srv, http.MethodPatch, pagestest.AliceNotePath, key.String(), `{"title":"changed"}`); code != 403 {
		t.Errorf("the old key writes a note: %d, want 403", code)
	}

	// Nothing chosen: asked again, nothing rolled. (A row the form does
	// not send keeps the old key's level, as the page showed it.)
	form = rollForm(t, c, newer.ID, "1h")
	form.Set("access", "custom")
	form.Set("perm.notes", "none")
	res := c.Post(pagestest.Paths.Roll(newer.ID), form)
	if res.StatusCode != http.StatusBadRequest || pagestest.RevealedKey(res.Body) != "" ||
		!strings.Contains(res.Body, `data-testid="permissions-error">Choose Read or Write for at least one row`) ||
		checkedValue(res.Body, "access") != "custom" || checkedValue(res.Body, "grace") != "1h" {
		t.Errorf("nothing chosen: %d", res.StatusCode)
	}
	// The old key's, when the form does not send the editor's fields.
	kept, _ := revealedOptions(t, srv, c.Post(pagestest.Paths.Roll(newer.ID), rollForm(t, c, newer.ID, "1h")))
	if got := storedPermissions(t, srv, kept.ID); got != `{"notes":"write"}` {
		t.Errorf("rolled without the editor's fields: %s", got)
	}
	// The list's Roll links carry the key's, for the shared dialog.
	if list := c.Get(pagestest.Paths.Keys).Body; !strings.Contains(list, `data-roll-permissions="{&#34;notes&#34;:&#34;write&#34;}" data-roll-addresses=""`) ||
		!strings.Contains(list, `data-roll-permissions="null"`) {
		t.Error("the Roll links do not carry the keys' permissions")
	}
}
