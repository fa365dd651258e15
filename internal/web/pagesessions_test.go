package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/web"
)

// sessionsTable is where the pages keep their sessions (migration
// 1764800000).
const sessionsTable = "_pbkeys_page_sessions"

// sessionRow is a stored session, every column as text.
type sessionRow struct {
	ID           string `db:"id"`
	CollectionID string `db:"collection_id"`
	RecordID     string `db:"record_id"`
	AuthStamp    string `db:"auth_stamp"`
	Created      string `db:"created"`
	Expires      string `db:"expires"`
}

func sessionRows(t testing.TB, app core.App) []sessionRow {
	t.Helper()
	var rows []sessionRow
	if err := app.DB().Select("*").From(sessionsTable).All(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// hashOf is the stored id of a session cookie's value.
func hashOf(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// sendsToSignIn checks that a browser presenting the session cookie value
// to srv is sent to the sign-in page, told its session has ended, and
// loses the cookie.
func sendsToSignIn(t *testing.T, srv *pagestest.Server, cookie, what string) {
	t.Helper()
	c := srv.Client(t)
	c.SetCookie(web.SessionCookie, cookie)
	res := c.Get(pagestest.Paths.Keys)
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Login {
		t.Errorf("%s: %d to %q, want the sign-in page", what, res.StatusCode, res.Location())
		return
	}
	if c.Cookie(web.SessionCookie) != "" {
		t.Errorf("%s: the cookie was not cleared", what)
	}
	if !strings.Contains(c.Get(res.Location()).Body, "Your session has ended") {
		t.Errorf("%s: no explanation on the sign-in page", what)
	}
}

// signOut signs c out with its page's form.
func signOut(t *testing.T, c *pagestest.Client) {
	t.Helper()
	csrf := pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")
	res := c.Post(pagestest.Paths.Logout, url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || res.Location() != pagestest.Paths.Login {
		t.Fatalf("sign out: %d to %q", res.StatusCode, res.Location())
	}
}

// TestSignOutEndsTheSessionEverywhere: after signing out, the old cookie
// (say, copied before) is refused at once, by this process and by another
// one serving the same data; the account's other browser and its
// PocketBase token keep working. For the accounts that sign in on the
// pages: an owner and a superuser (service accounts cannot sign in with a
// password: TestOtherOwnerCollectionsSignIn).
func TestSignOutEndsTheSessionEverywhere(t *testing.T) {
	t.Parallel()
	for _, account := range []struct {
		name, email, collection string
		jwt                     func(testing.TB, core.App) string
	}{
		{"owner", hookstest.AliceEmail, "users", func(t testing.TB, app core.App) string { return hookstest.JWT(t, app, hookstest.AliceID) }},
		{"superuser", hookstest.SuperuserEmail, core.CollectionNameSuperusers, hookstest.SuperuserJWT},
	} {
		t.Run(account.name, func(t *testing.T) {
			t.Parallel()
			srv := pagestest.Start(t)
			other := srv.AnotherProcess(t)
			record, err := srv.Env.App.FindAuthRecordByEmail(account.collection, account.email)
			if err != nil {
				t.Fatal(err)
			}
			recordURL := "/api/collections/" + account.collection + "/records/" + record.Id
			jwt := account.jwt(t, srv.Env.App)

			browser, laptop := srv.Client(t), srv.Client(t)
			browser.Login(account.email, hookstest.Password)
			laptop.Login(account.email, hookstest.Password)
			copied := browser.Cookie(web.SessionCookie)
			elsewhere := other.Client(t)
			elsewhere.SetCookie(web.SessionCookie, copied)
			if res := elsewhere.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusOK {
				t.Fatalf("the session in the other process before signing out: %d", res.StatusCode)
			}

			signOut(t, browser)
			if browser.Cookie(web.SessionCookie) != "" {
				t.Error("the cookie was kept")
			}
			sendsToSignIn(t, srv, copied, "the old cookie")
			sendsToSignIn(t, other, copied, "the old cookie in the other process")

			// Only that session ended.
			if res := laptop.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusOK {
				t.Errorf("the account's other session: %d, want 200", res.StatusCode)
			}
			if code := srv.APIGet(t, recordURL, jwt); code != http.StatusOK {
				t.Errorf("the account's PocketBase token on %s: %d, want 200", recordURL, code)
			}

			// Signing out in the other process ends the laptop's session here.
			laptopElsewhere := other.Client(t)
			laptopElsewhere.SetCookie(web.SessionCookie, laptop.Cookie(web.SessionCookie))
			signOut(t, laptopElsewhere)
			sendsToSignIn(t, srv, laptop.Cookie(web.SessionCookie), "the laptop signed out in the other process")
			if n := len(sessionRows(t, srv.Env.App)); n != 0 {
				t.Errorf("%d sessions stored after both signed out", n)
			}
		})
	}
}

// TestSessionCookieIsNoToken: the cookie holds a fresh random secret, not a
// PocketBase token, so it authenticates nothing on the REST API; the
// database keeps only its SHA-256, never the secret.
func TestSessionCookieIsNoToken(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	a, b := srv.Client(t), srv.Client(t)
	a.Login(hookstest.AliceEmail, hookstest.Password)
	b.Login(hookstest.AliceEmail, hookstest.Password)
	secrets := []string{a.Cookie(web.SessionCookie), b.Cookie(web.SessionCookie)}
	if secrets[0] == secrets[1] {
		t.Fatal("two sign-ins got the same cookie")
	}
	for _, secret := range secrets {
		// 32 random bytes in base64url: no JWT (which has two dots)
		if len(secret) != 43 || strings.Trim(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("cookie %q is not 256 random bits in base64url", secret)
		}
		if _, err := srv.Env.App.FindAuthRecordByToken(secret, core.TokenTypeAuth); err == nil {
			t.Error("the cookie is a PocketBase token")
		}
		if code := srv.APIGet(t, hookstest.AliceOwner.URL(), secret); code == http.StatusOK {
			t.Error("the cookie as a Bearer token reads Alice's record")
		}
	}

	rows := sessionRows(t, srv.Env.App)
	if len(rows) != 2 {
		t.Fatalf("%d sessions stored, want 2", len(rows))
	}
	users, _ := srv.Env.App.FindCollectionByNameOrId("users")
	for i, row := range rows {
		if row.ID != hashOf(secrets[0]) && row.ID != hashOf(secrets[1]) {
			t.Errorf("row %d: id %q is not the SHA-256 of a cookie", i, row.ID)
		}
		if row.CollectionID != users.Id || row.RecordID != hookstest.AliceID || row.AuthStamp == "" {
			t.Errorf("row %d: %+v, want Alice's", i, row)
		}
		expires, err := types.ParseDateTime(row.Expires)
		if d := time.Until(expires.Time()) - users.AuthToken.DurationTime(); err != nil || d < -time.Minute || d > time.Minute {
			t.Errorf("row %d expires %s, want in %v (the collection's token lifetime)", i, row.Expires, users.AuthToken.DurationTime())
		}
	}
	// Nowhere in the database files: not in a column, a page or the WAL.
	files, err := filepath.Glob(filepath.Join(srv.Env.App.DataDir(), "*.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds a session cookie in plain text", filepath.Base(name))
			}
		}
	}
}

// TestSessionEnds: a session is refused — and deleted, and the cookie
// cleared — once it has expired, the account's tokens were invalidated, or
// the account no longer passes its collection's auth rule. (A password
// change and a deleted account: TestInvalidTokenSignsOut.)
func TestSessionEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, srv *pagestest.Server, cookie string)
	}{
		{"expired", func(t *testing.T, srv *pagestest.Server, cookie string) {
			past := time.Now().Add(-time.Second).UTC().Format(types.DefaultDateLayout)
			_, err := srv.Env.App.DB().Update(sessionsTable, dbx.Params{"expires": past}, dbx.HashExp{"id": hashOf(cookie)}).Execute()
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"all tokens invalidated", func(t *testing.T, srv *pagestest.Server, _ string) {
			invalidateAllTokens(t, srv.Env.App)
		}},
		// the dashboard of another process serving the same data
		{"all tokens invalidated by another process", func(t *testing.T, srv *pagestest.Server, _ string) {
			invalidateAllTokens(t, srv.Env.AnotherProcess(t).App)
		}},
		{"the auth rule refuses the account", func(t *testing.T, srv *pagestest.Server, _ string) {
			users, _ := srv.Env.App.FindCollectionByNameOrId("users")
			users.AuthRule = types.Pointer("verified = false")
			if err := srv.Env.App.Save(users); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := pagestest.Start(t)
			c := srv.Client(t)
			c.Login(hookstest.AliceEmail, hookstest.Password)
			cookie := c.Cookie(web.SessionCookie)
			tc.end(t, srv, cookie)
			sendsToSignIn(t, srv, cookie, tc.name)
			if n := len(sessionRows(t, srv.Env.App)); n != 0 {
				t.Errorf("the refused session is still stored (%d rows)", n)
			}
		})
	}
}

// invalidateAllTokens gives the users collection a new token secret, as
// the dashboard's "Invalidate all previously issued tokens" does.
func invalidateAllTokens(t *testing.T, app core.App) {
	t.Helper()
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatal(err)
	}
	users.AuthToken.Secret = "a brand new secret for every token of the collection"
	if err := app.Save(users); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredSessionsArePruned: the daily job deletes expired sessions and
// leaves the others.
func TestExpiredSessionsArePruned(t *testing.T) {
	t.Parallel()
	srv := pagestest.Start(t)
	kept, gone := srv.Client(t), srv.Client(t)
	kept.Login(hookstest.AliceEmail, hookstest.Password)
	gone.Login(hookstest.BobEmail, hookstest.Password)
	past := time.Now().Add(-time.Hour).UTC().Format(types.DefaultDateLayout)
	if _, err := srv.Env.App.DB().Update(sessionsTable, dbx.Params{"expires": past},
		dbx.HashExp{"id": hashOf(gone.Cookie(web.SessionCookie))}).Execute(); err != nil {
		t.Fatal(err)
	}
	var ran bool
	for _, job := range srv.Env.App.Cron().Jobs() {
		if job.Id() == "pbkeysPageSessions" {
			job.Run()
			ran = true
		}
	}
	if !ran {
		t.Fatal("no pbkeysPageSessions cron job")
	}
	rows := sessionRows(t, srv.Env.App)
	if len(rows) != 1 || rows[0].ID != hashOf(kept.Cookie(web.SessionCookie)) {
		t.Fatalf("after pruning: %+v, want the unexpired session only", rows)
	}
	if res := kept.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusOK {
		t.Errorf("the kept session: %d", res.StatusCode)
	}
}

// TestSignOutWithoutASession: signing out with a cookie that is no
// session (stale, made up, or of a session already ended) still clears
// it and says so.
func TestSignOutWithoutASession(t *testing.T) {
	t.Parallel()
	for name, cookie := range map[string]string{
		"made up":                    "not-a-session",
		"a session's shape, unknown": strings.Repeat("A", 43),
		"an old JWT":                 "eyJhbGciOiJIUzI1NiJ9.e30.x",
	} {
		s := tests.ApiScenario{
			Name:   name,
			Method: http.MethodPost,
			URL:    pagestest.Paths.Logout,
			Body:   strings.NewReader(url.Values{"csrf": {"whatever"}}.Encode()),
			Headers: map[string]string{
				"Content-Type":   "application/x-www-form-urlencoded",
				"Sec-Fetch-Site": "same-origin",
				"Cookie":         web.SessionCookie + "=" + cookie,
			},
			ExpectedStatus: http.StatusSeeOther,
			TestAppFactory: pagestest.Factory(),
			AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				cleared := false
				for _, ck := range res.Cookies() {
					cleared = cleared || (ck.Name == web.SessionCookie && ck.MaxAge < 0)
				}
				if !cleared || res.Header.Get("Location") != pagestest.Paths.Login {
					t.Errorf("cookie cleared=%v, Location %q", cleared, res.Header.Get("Location"))
				}
			},
		}
		s.Test(t)
	}
}

// TestSessionsWhenTheDatabaseFails: when the sessions cannot be read, a
// page is an error — never the keys, and never a sign-out: the cookie
// stays, and once the database answers again the session works.
func TestSessionsWhenTheDatabaseFails(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	csrf := pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")
	rename := func(from, to string) {
		t.Helper()
		if _, err := srv.Env.App.DB().NewQuery("ALTER TABLE {{" + from + "}} RENAME TO {{" + to + "}}").Execute(); err != nil {
			t.Fatal(err)
		}
	}
	rename(sessionsTable, "sessions_away")
	cookie := c.Cookie(web.SessionCookie)
	if res := c.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusInternalServerError || strings.Contains(res.Body, hookstest.AliceKeyID) {
		t.Errorf("list: %d, want 500 without the keys", res.StatusCode)
	}
	if res := c.Post(pagestest.Paths.Logout, url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusInternalServerError || strings.Contains(res.Body, "signed out") {
		t.Errorf("sign out: %d, want 500 that does not say signed out", res.StatusCode)
	}
	if c.Cookie(web.SessionCookie) != cookie {
		t.Fatal("the cookie changed while the database failed")
	}
	rename("sessions_away", sessionsTable)
	if res := c.Get(pagestest.Paths.Keys); res.StatusCode != http.StatusOK {
		t.Errorf("after the database is back: %d", res.StatusCode)
	}
	signOut(t, c)
}
