package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/hooks/pagestest"
	"github.com/pbkeys/pbkeys/internal/keylist"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
)

var keyRowPattern = regexp.MustCompile(`data-testid="key-row" data-key-id="([a-z0-9]{15})"`)

// rowIDs returns the key ids of the rows of a list page, in order.
func rowIDs(page string) []string {
	var ids []string
	for _, m := range keyRowPattern.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// manyKeys gives Alice n more keys, labelled "device 000"..., and returns
// their ids, oldest first.
func manyKeys(t *testing.T, srv *pagestest.Server, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		r, _, err := srv.Env.Store.Issue(srv.Env.Alice(t), keystore.Options{Label: fmt.Sprintf("device %03d", i)}, keystore.Origin{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.Id
		// The list is newest first by "created", which has millisecond
		// precision (ties go by id): the test's order needs distinct times.
		time.Sleep(2 * time.Millisecond)
	}
	return ids
}

func TestListPaginates(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	ids := manyKeys(t, srv, 119) // with the fixture's key: 120, three pages

	first := c.Get(pagestest.Paths.Keys)
	rows := rowIDs(first.Body)
	if len(rows) != keylist.DefaultPerPage || rows[0] != ids[118] {
		t.Fatalf("page 1: %d rows starting %v, want 50 starting with the newest", len(rows), rows[:1])
	}
	if !strings.Contains(first.Body, "Keys 1–50 of 120") || !strings.Contains(first.Body, "page 1 of 3") {
		t.Errorf("page 1 does not say where it is")
	}
	if !strings.Contains(first.Body, `href="/api-keys?page=2" rel="next"`) || strings.Contains(first.Body, `rel="prev"`) {
		t.Errorf("page 1's links are wrong")
	}

	last := c.Get(pagestest.Paths.Keys + "?page=3")
	rows = rowIDs(last.Body)
	if len(rows) != 20 || rows[len(rows)-1] != hookstest.AliceKeyID || !strings.Contains(last.Body, "Keys 101–120 of 120") {
		t.Fatalf("page 3: %d rows, ending %v", len(rows), rows[len(rows)-1:])
	}
	if strings.Contains(last.Body, `rel="next"`) || !strings.Contains(last.Body, `href="/api-keys?page=2" rel="prev"`) {
		t.Errorf("page 3's links are wrong")
	}
	// a page past the end, or not a number, is the nearest page
	for path, want := range map[string]int{"?page=99": 20, "?page=-1": 50, "?page=x": 50} {
		if res := c.Get(pagestest.Paths.Keys + path); res.StatusCode != 200 || len(rowIDs(res.Body)) != want {
			t.Errorf("%s: %d with %d rows, want %d", path, res.StatusCode, len(rowIDs(res.Body)), want)
		}
	}

	// "Revoke all" still means all, from any page
	confirm := c.Get(pagestest.Paths.RevokeAll)
	if !strings.Contains(confirm.Body, "Revoke all 120 API keys?") {
		t.Fatalf("confirmation:\n%s", confirm.Body)
	}
	if res := c.Post(pagestest.Paths.RevokeAll, url.Values{"csrf": {pagestest.InputValue(confirm.Body, "csrf")}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke all: %d", res.StatusCode)
	}
	if n := countKeys(t, srv, hookstest.AliceID); n != 0 {
		t.Fatalf("Alice has %d keys left", n)
	}
	if n := countKeys(t, srv, hookstest.BobID); n != 1 {
		t.Fatalf("Bob has %d keys", n)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	ids := manyKeys(t, srv, 60)
	alice := srv.Env.Alice(t)
	if _, err := srv.Env.Store.SetDisabled(alice, ids[7], true); err != nil {
		t.Fatal(err)
	}
	soon, _, err := srv.Env.Store.Issue(alice, keystore.Options{Label: "Phone", ExpiresAt: time.Now().Add(3 * 24 * time.Hour)}, keystore.Origin{})
	if err != nil {
		t.Fatal(err)
	}

	for query, want := range map[string][]string{
		"q=device+05":                 {ids[59], ids[58], ids[57], ids[56], ids[55], ids[54], ids[53], ids[52], ids[51], ids[50]},
		"q=DEVICE+007":                {ids[7]},
		"state=disabled":              {ids[7]},
		"state=expiring":              {soon.Id},
		"q=phone&state=expiring":      {soon.Id},
		"q=device+007&state=disabled": {ids[7]},
		"q=device+007&state=active":   nil,
	} {
		res := c.Get(pagestest.Paths.Keys + "?" + query)
		got := rowIDs(res.Body)
		if res.StatusCode != 200 || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("?%s: %d rows %v, want %v", query, res.StatusCode, got, want)
		}
		if want == nil && !strings.Contains(res.Body, `data-testid="no-match"`) {
			t.Errorf("?%s: no \"No keys match\"", query)
		}
	}

	// the filter is kept on the form, in the pager's links and in the rows'
	// forms, so acting on a key comes back to the same page
	res := c.Get(pagestest.Paths.Keys + "?q=device&page=2")
	if pagestest.InputValue(res.Body, "q") != "device" || !strings.Contains(res.Body, `href="/api-keys?q=device" rel="prev"`) {
		t.Errorf("the filter is not kept on page 2")
	}
	if pagestest.InputValue(res.Body, "return") != "/api-keys?page=2&q=device" {
		t.Errorf("rows come back to %q", pagestest.InputValue(res.Body, "return"))
	}
	toggle := c.Post(pagestest.Paths.Disable(ids[3]), url.Values{"csrf": {pagestest.InputValue(res.Body, "csrf")}, "return": {"/api-keys?page=2&q=device"}})
	if toggle.StatusCode != http.StatusSeeOther || toggle.Location() != "/api-keys?page=2&q=device" {
		t.Fatalf("disable from page 2: %d → %s", toggle.StatusCode, toggle.Location())
	}
	// an unknown state filters nothing
	if res := c.Get(pagestest.Paths.Keys + "?state=bogus"); res.StatusCode != 200 || len(rowIDs(res.Body)) != 50 {
		t.Errorf("?state=bogus: %d with %d rows", res.StatusCode, len(rowIDs(res.Body)))
	}
}

// The row says where the key was last used from and how much it was used.
func TestListShowsLastUseAndUsage(t *testing.T) {
	t.Parallel()
	srv, c := signedIn(t)
	today := time.Now().UTC()
	err := usage.Write(srv.Env.App, []usage.KeyUsage{{
		KeyID: hookstest.AliceKeyID, LastUsed: time.Now(), IP: "203.0.113.9", UserAgent: `deploy-bot/1.0 "<script>"`,
		Days: []usage.Day{
			{Day: today.AddDate(0, 0, -2).Format(time.DateOnly), Requests: 120},
			{Day: today.Format(time.DateOnly), Requests: 12},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res := c.Get(pagestest.Paths.Keys)
	for _, want := range []string{
		`from 203.0.113.9`,
		`title="deploy-bot/1.0 &#34;&lt;script&gt;&#34;"`, // escaped, never markup
		`aria-label="132 requests in the last 30 days"`,
		`<title>` + today.Format("Jan 2") + `: 12 requests</title>`,
		`<title>` + today.AddDate(0, 0, -1).Format("Jan 2") + `: 0 requests</title>`,
	} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("the list lacks %s", want)
		}
	}
	if strings.Contains(res.Body, "<script>") || strings.Count(res.Body, "<rect ") != usage.Window {
		t.Errorf("want 30 bars and no markup from the user agent")
	}
	// the busiest day fills the chart; another day is to scale
	if !strings.Contains(res.Body, `height="28"`) || !strings.Contains(res.Body, `height="2.8"`) {
		t.Errorf("the bars are not to scale")
	}
}
