package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/web"
)

// shownActions are the actions of the events an Activity page shows, in
// its order.
func shownActions(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`data-testid="event" data-action="([a-z_0-9]+)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// What an owner does on the pages is recorded as the owner's, with their
// address and browser — create, disable, enable, roll, revoke — and each
// row of the list links to the key's Activity page, which shows it, newest
// first; a revoked key's page stays. Another user's key is not found.
func TestActivityOfAnOwnersKey(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	key, _ := revealedOptions(t, srv, createWith(t, c, "from the page", nil))
	csrf := url.Values{"csrf": {pagestest.InputValue(c.Get(pagestest.Paths.Keys).Body, "csrf")}}
	for _, path := range []string{pagestest.Paths.Disable(key.ID), pagestest.Paths.Enable(key.ID)} {
		if res := c.Post(path, csrf); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s: %d", path, res.StatusCode)
		}
	}
	rolled, _ := revealedOptions(t, srv, c.Post(pagestest.Paths.Roll(key.ID), rollForm(t, c, key.ID, "1h")))
	if res := c.Post(pagestest.Paths.Revoke(rolled.ID), csrf); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}

	alice := events.Actor{Kind: events.KindOwner, ID: hookstest.AliceID}
	for id, want := range map[string]string{key.ID: "rolled enabled disabled created", rolled.ID: "revoked created"} {
		list, err := events.List(srv.Env.App, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list {
			got = append(got, e.Action)
			if e.Actor != alice || e.IP != "127.0.0.1" || !strings.HasPrefix(e.UserAgent, "Go-http-client/") {
				t.Errorf("%s of %s by %+v from %q %q", e.Action, id, e.Actor, e.IP, e.UserAgent)
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("events of %s: %v, want %s", id, got, want)
		}
	}

	list := c.Get(pagestest.Paths.Keys).Body
	if strings.Contains(list, `data-testid="expires-soon"`) {
		t.Error("the rolled key, ending in an hour, is said to expire soon: it was rolled already")
	}
	link := `href="` + web.ActivityPath(key.ID) + `"`
	if !strings.Contains(list, link) || !strings.Contains(list, `aria-label="Activity of from the page" data-testid="activity">Activity</a>`) {
		t.Fatalf("the list does not link to the key's Activity page (%s)", link)
	}
	page := c.Get(web.ActivityPath(key.ID))
	if page.StatusCode != 200 {
		t.Fatalf("activity page: %d", page.StatusCode)
	}
	if got := strings.Join(shownActions(page.Body), " "); got != "rolled enabled disabled created" {
		t.Errorf("the page shows %q", got)
	}
	for _, want := range []string{
		"<title>Activity of ‘from the page’ · pbkeys</title>", `data-testid="activity-key">` + key.ID + `</code>`,
		`data-testid="event-action">Rolled</span>`, `data-testid="event-detail">replaced by ` + rolled.ID + `; works until `,
		`data-testid="event-action">Disabled</span>`, `data-testid="event-actor">You</td>`,
		`data-testid="event-ip">127.0.0.1</span>`, `data-testid="event-agent">Go-http-client/`, "Events are kept 90 days.",
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("activity page lacks %q", want)
		}
	}

	revoked := c.Get(web.ActivityPath(rolled.ID))
	if revoked.StatusCode != 200 || strings.Join(shownActions(revoked.Body), " ") != "revoked created" ||
		!strings.Contains(revoked.Body, `state state-expired" data-testid="key-state">Revoked</span>`) {
		t.Errorf("a revoked key's page: %d %v", revoked.StatusCode, shownActions(revoked.Body))
	}

	for _, id := range []string{hookstest.BobKeyID, "doesnotexist123"} {
		if res := c.Get(web.ActivityPath(id)); res.StatusCode != http.StatusNotFound || strings.Contains(res.Body, `data-testid="event"`) {
			t.Errorf("activity of %s: %d, want 404", id, res.StatusCode)
		}
	}
	// "Revoke all" is the owner's too
	form := url.Values{"csrf": csrf["csrf"]}
	if res := c.Post(pagestest.Paths.RevokeAll, form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke all: %d", res.StatusCode)
	}
	for _, id := range []string{key.ID, hookstest.AliceKeyID} {
		list, err := events.List(srv.Env.App, id, nil)
		if err != nil || len(list) == 0 || list[0].Action != "revoked" || list[0].Actor != alice {
			t.Errorf("after revoke all, %s: %+v (%v)", id, list, err)
		}
	}

	// Bob's revoked key neither
	bob := srv.Client(t)
	bob.Login(hookstest.BobEmail, hookstest.Password)
	if res := bob.Get(web.ActivityPath(rolled.ID)); res.StatusCode != http.StatusNotFound {
		t.Errorf("Bob reads Alice's revoked key's activity: %d", res.StatusCode)
	}
}

// What a superuser does on the pages is the superuser's, by id; a
// superuser sees every key's Activity, and the owner reads "An
// administrator" for them.
func TestActivityOfAnAdmin(t *testing.T) {
	t.Parallel()
	srv, admin := signedInAdmin(t)
	su, err := srv.Env.App.FindAuthRecordByEmail(core.CollectionNameSuperusers, hookstest.SuperuserEmail)
	if err != nil {
		t.Fatal(err)
	}
	csrf := url.Values{"csrf": {pagestest.InputValue(admin.Get(pagestest.Paths.Keys).Body, "csrf")}}
	for _, id := range []string{hookstest.AliceKeyID, hookstest.BotKeyID} {
		if res := admin.Post(pagestest.Paths.Disable(id), csrf); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("disable %s: %d", id, res.StatusCode)
		}
		list, err := events.List(srv.Env.App, id, nil)
		if err != nil || len(list) != 2 || list[0].Action != "disabled" ||
			list[0].Actor != (events.Actor{Kind: events.KindSuperuser, ID: su.Id}) || list[0].IP != "127.0.0.1" {
			t.Fatalf("events of %s: %+v (%v)", id, list, err)
		}
		page := admin.Get(web.ActivityPath(id))
		if page.StatusCode != 200 || !strings.Contains(page.Body, `data-testid="event-actor">Superuser `+su.Id+`</td>`) ||
			!strings.Contains(page.Body, `data-testid="event-actor">System</td>`) {
			t.Errorf("admin's activity page of %s: %d", id, page.StatusCode)
		}
	}
	alice := srv.Client(t)
	alice.Login(hookstest.AliceEmail, hookstest.Password)
	page := alice.Get(web.ActivityPath(hookstest.AliceKeyID))
	if !strings.Contains(page.Body, `data-testid="event-actor">An administrator</td>`) || strings.Contains(page.Body, su.Id) {
		t.Errorf("Alice's activity page names the administrator:\n%s", page.Body)
	}
}
