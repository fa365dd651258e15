package hooks_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
	"github.com/pocketbase/pocketbase/core"
)

// The spellings PocketBase v0.40.4 accepts for what a request reads, and
// where in its source each comes from. Every one is tried below against
// what a key may not reach: api_keys (any key) and collections outside a
// key's list (a notes-only key), through expand, filter, sort, the route
// and realtime.
//
//	expand   core/record_query_expand.go
//	         normalizeExpands removes every space and trims dots: "api _keys_via_user", ".secret"
//	         indirectExpandRegex ^(\w+)_via_(\w+)$, collection by name in any case or by id
//	         (FindCachedCollectionByNameOrId: strings.EqualFold(name) || id)
//	         indirectExpandRegexOld ^(\w+)\((\w+)\)$, the legacy "comments(note)", "api_keys(user)"
//	         nested paths split on ".": "owner.api_keys_via_user", lists split on ","
//	filter   core/record_field_resolver_runner.go: relation paths, back-relations
//	         (name in any case or id), @collection.NAME.field, nested relations
//	sort     tools/search/sort.go ParseSortFromString: "-" and "+" prefixes, spaces trimmed,
//	         then the same resolver as filters
//	routes   apis/record_crud.go: the {collection} path value by name in any case, by id,
//	         percent-encoded
//	realtime tools/subscriptions/client.go Subscribe: url.Parse, Query().Get("options")
//	         (malformed extra parameters ignored), options JSON with values of any type
//	         (cast.ToString); apis/realtime.go matches topics "NAME/...", "ID/...", "NAME?..."

// spelling is one way of asking PocketBase to read a forbidden collection.
type spelling struct {
	name string
	url  string // a REST request (GET), or "" for a realtime topic
	// topic is a realtime subscription topic; {alice} and {note} are
	// replaced by fixture ids.
	topic string
}

// keyMarkers and outOfScopeMarkers appear in a response only if a
// forbidden record leaked: api_keys records, or records outside notes (a
// secret, a comment, the owner's user record). The secret's id is not one:
// Alice's note holds it as its relation value.
var (
	keyMarkers        = []string{hookstest.AliceKeyLabel, hookstest.AliceKeyID, hookstest.BobKeyLabel}
	outOfScopeMarkers = []string{hookstest.AliceSecretTitle, hookstest.AliceCommentText, hookstest.AliceCommentID, hookstest.AliceEmail}
)

func q(s string) string { return url.QueryEscape(s) }

// options is a realtime topic's options with the given query.
func options(query map[string]any) string {
	raw, _ := json.Marshal(map[string]any{"query": query})
	return "?options=" + string(raw)
}

func TestNoKeyReadsAPIKeysInAnySpelling(t *testing.T) {
	env := hookstest.New(t)
	keysID := collectionID(t, env, keystore.Collection)
	eventsID := collectionID(t, env, keystore.EventsCollection)
	env.App.Cleanup()

	users := "/api/collections/users/records"
	notes := "/api/collections/notes/records"
	spellings := []spelling{
		// expand
		{name: "expand back-relation", url: aliceURL + "?expand=api_keys_via_user"},
		{name: "expand with a space inside", url: aliceURL + "?expand=api%20_keys_via_user"},
		{name: "expand with spaces around", url: aliceURL + "?expand=%20api_keys_via_user%20"},
		{name: "expand with a leading dot", url: aliceURL + "?expand=.api_keys_via_user"},
		{name: "expand with a trailing dot", url: aliceURL + "?expand=api_keys_via_user."},
		{name: "expand in upper case", url: aliceURL + "?expand=API_KEYS_via_user"},
		{name: "expand by collection id", url: aliceURL + "?expand=" + keysID + "_via_user"},
		{name: "expand, legacy rel(field)", url: aliceURL + "?expand=api_keys(user)"},
		{name: "expand from a key to nowhere else", url: "/api/collections/users/records?expand=api_keys_via_user.user"},
		{name: "expand in a list", url: aliceURL + "?expand=x,api_keys_via_user"},
		{name: "expand on a list", url: users + "?expand=api%20_keys_via_user"},
		{name: "expand nested from notes", url: notes + "?expand=owner.api%20_keys_via_user"},
		{name: "expand nested, legacy", url: aliceNoteURL + "?expand=owner.api_keys(user)"},
		{name: "expand, second value ignored by PocketBase", url: aliceURL + "?expand=api_keys_via_user&expand=x"},
		// filter
		{name: "filter on the back-relation", url: users + "?filter=" + q("api_keys_via_user.label ?= 'x'")},
		{name: "filter in upper case", url: users + "?filter=" + q("API_KEYS_via_user.label ?= 'x'")},
		{name: "filter by collection id", url: users + "?filter=" + q(keysID+"_via_user.label ?= 'x'")},
		{name: "filter nested from notes", url: notes + "?filter=" + q("owner.api_keys_via_user.label ?= 'x'")},
		{name: "filter through @collection", url: notes + "?filter=" + q("@collection.api_keys.label ?= 'x'")},
		{name: "filter through @collection by id", url: notes + "?filter=" + q("@collection."+keysID+".label ?= 'x'")},
		{name: "filter through @request.auth", url: notes + "?filter=" + q("@request.auth.api_keys_via_user.label ?= 'x'")},
		// sort
		{name: "sort by the back-relation", url: users + "?sort=api_keys_via_user.label"},
		{name: "sort descending, upper case", url: users + "?sort=-API_KEYS_via_user.label"},
		{name: "sort with plus and spaces", url: users + "?sort=" + q(" +api_keys_via_user.created ")},
		{name: "sort nested from notes", url: notes + "?sort=id,owner.api_keys_via_user.label"},
		// routes
		{name: "route by name", url: "/api/collections/api_keys/records"},
		{name: "route in upper case", url: "/api/collections/API_KEYS/records"},
		{name: "route by id", url: "/api/collections/" + keysID + "/records"},
		{name: "route percent-encoded", url: "/api/collections/api%5Fkeys/records/" + hookstest.AliceKeyID},
		// realtime
		{name: "realtime topic", topic: "api_keys/*"},
		{name: "realtime topic by id", topic: keysID + "/*"},
		{name: "realtime record topic", topic: "api_keys/" + hookstest.AliceKeyID},
		{name: "realtime legacy topic", topic: "api_keys?options={}"},
		{name: "realtime expand", topic: "users/{alice}" + options(map[string]any{"expand": "api_keys_via_user"})},
		{name: "realtime expand with a number beside it", topic: "users/{alice}" + options(map[string]any{"expand": "api_keys_via_user", "n": 1})},
		{name: "realtime expand with a space", topic: "users/*" + options(map[string]any{"expand": "api _keys_via_user"})},
		{name: "realtime expand, malformed extra parameter", topic: "users/{alice}" + options(map[string]any{"expand": "api_keys_via_user"}) + "&x=%zz"},
		{name: "realtime expand, options percent-encoded", topic: "users/{alice}?options=" + q(`{"query":{"expand":"api_keys(user)"}}`)},
		{name: "realtime expand nested", topic: "notes/*" + options(map[string]any{"expand": "owner.api_keys_via_user"})},
		{name: "realtime filter", topic: "notes/*" + options(map[string]any{"filter": "owner.api_keys_via_user.label ?= 'x'"})},
		{name: "realtime filter through @collection", topic: "notes/*" + options(map[string]any{"filter": "@collection.api_keys.label ?= 'x'"})},
		// the keys' usage, like the keys
		{name: "usage route", url: "/api/collections/api_key_usage/records"},
		{name: "usage route in upper case", url: "/api/collections/API_KEY_USAGE/records"},
		{name: "usage through @collection", url: notes + "?filter=" + q("@collection.api_key_usage.requests > 0")},
		{name: "usage realtime topic", topic: "api_key_usage/*"},
		// and their events
		{name: "events route", url: "/api/collections/api_key_events/records"},
		{name: "events route in upper case", url: "/api/collections/API_KEY_EVENTS/records"},
		{name: "events route by id", url: "/api/collections/" + eventsID + "/records"},
		{name: "events through @collection", url: notes + "?filter=" + q("@collection.api_key_events.action ?= 'created'")},
		{name: "events through @collection by id", url: notes + "?filter=" + q("@collection."+eventsID+".action ?= 'created'")},
		{name: "events sorted through @collection", url: notes + "?sort=" + q("@collection.api_key_events.created")},
		{name: "events realtime topic", topic: "api_key_events/*"},
		{name: "events realtime topic by id", topic: eventsID + "/*"},
		{name: "events realtime filter through @collection", topic: "notes/*" + options(map[string]any{"filter": "@collection.api_key_events.action ?= 'created'"})},
		{name: "our events route", url: "/api/api-keys/" + hookstest.AliceKeyID + "/events"},
	}
	// full access, a key with permissions, and "every collection" ("*"),
	// which does not mean pbkeys' own
	for _, perms := range []permissions.Set{
		nil,
		{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write},
		{permissions.Others: permissions.Write, permissions.Routes: permissions.Write},
	} {
		for _, o := range hookstest.Owners {
			runSpellings(t, o, perms, spellings, keyMarkers)
		}
	}
}

func TestScopedKeyReachesNoOtherCollectionInAnySpelling(t *testing.T) {
	env := hookstest.New(t)
	secretsID := collectionID(t, env, hookstest.SecretsCollection)
	commentsID := collectionID(t, env, hookstest.CommentsCollection)
	env.App.Cleanup()

	notes := "/api/collections/notes/records"
	spellings := []spelling{
		// expand
		{name: "expand a relation", url: aliceNoteURL + "?expand=secret"},
		{name: "expand with a leading dot", url: aliceNoteURL + "?expand=.secret"},
		{name: "expand with a space inside", url: aliceNoteURL + "?expand=sec%20ret"},
		{name: "expand the owner", url: aliceNoteURL + "?expand=owner"},
		{name: "expand nested", url: aliceNoteURL + "?expand=secret.owner"},
		{name: "expand a back-relation", url: aliceNoteURL + "?expand=comments_via_note"},
		{name: "expand a back-relation in upper case", url: aliceNoteURL + "?expand=COMMENTS_via_note"},
		{name: "expand a back-relation by id", url: aliceNoteURL + "?expand=" + commentsID + "_via_note"},
		{name: "expand, legacy rel(field)", url: aliceNoteURL + "?expand=comments(note)"},
		{name: "expand on a list", url: notes + "?expand=title,%20secret"},
		// filter
		{name: "filter through a relation", url: notes + "?filter=" + q("secret.title = 'x'")},
		{name: "filter through a relation, any-of", url: notes + "?filter=" + q("secret.title ?~ 'Alice'")},
		{name: "filter through the owner", url: notes + "?filter=" + q("owner.email != ''")},
		{name: "filter through a back-relation", url: notes + "?filter=" + q("comments_via_note.text ?= 'x'")},
		{name: "filter through a back-relation in upper case", url: notes + "?filter=" + q("COMMENTS_via_note.text ?= 'x'")},
		{name: "filter through a back-relation by id", url: notes + "?filter=" + q(commentsID+"_via_note.text ?= 'x'")},
		{name: "filter through @collection", url: notes + "?filter=" + q("@collection.secrets.title ?= 'x'")},
		{name: "filter through @collection by id", url: notes + "?filter=" + q("@collection."+secretsID+".title ?= 'x'")},
		{name: "filter nested", url: notes + "?filter=" + q("secret.owner.email != ''")},
		// sort
		{name: "sort through a relation", url: notes + "?sort=secret.title"},
		{name: "sort descending", url: notes + "?sort=-secret.title"},
		{name: "sort with spaces", url: notes + "?sort=" + q("title, +comments_via_note.text ")},
		// routes
		{name: "route by name", url: "/api/collections/secrets/records"},
		{name: "route in upper case", url: "/api/collections/SECRETS/records/" + hookstest.AliceSecretID},
		{name: "route by id", url: "/api/collections/" + secretsID + "/records"},
		{name: "route of a user's collection", url: aliceURL},
		{name: "route of the owner's own record", url: "{owner}"},
		// realtime
		{name: "realtime topic", topic: "secrets/*"},
		{name: "realtime topic by id", topic: secretsID + "/*"},
		{name: "realtime topic in upper case", topic: "SECRETS/*"},
		{name: "realtime expand", topic: "notes/{note}" + options(map[string]any{"expand": "secret", "n": 1})},
		{name: "realtime expand with a leading dot", topic: "notes/*" + options(map[string]any{"expand": ".secret"})},
		{name: "realtime expand, legacy", topic: "notes/*" + options(map[string]any{"expand": "comments(note)"}) + "&x=%zz"},
		{name: "realtime filter", topic: "notes/*" + options(map[string]any{"filter": "secret.title = 'x'"})},
		{name: "realtime filter through a back-relation", topic: "notes/*" + options(map[string]any{"filter": "comments_via_note.text ?= 'x'", "n": true})},
	}
	// Keys with permissions that reach none of secrets, comments and the
	// owners' collections: write on notes; read on notes; write on notes
	// and read on another collection; read everything but those ("none").
	for _, perms := range []permissions.Set{
		{hookstest.NotesCollection: permissions.Write, permissions.Routes: permissions.Write},
		{hookstest.NotesCollection: permissions.Read},
		{hookstest.NotesCollection: permissions.Write, extraCollection: permissions.Read},
		{permissions.Others: permissions.Read, hookstest.SecretsCollection: permissions.None, hookstest.CommentsCollection: permissions.None, "users": permissions.None},
	} {
		for _, o := range hookstest.Owners {
			if perms[permissions.Others] > permissions.None {
				perms = maps.Clone(perms)
				perms[o.Collection] = permissions.None // the owner's own collection too
			}
			runSpellings(t, o, perms, spellings, append(outOfScopeMarkers, hookstest.BotEmail))
		}
	}
}

// extraCollection is an empty collection runSpellings adds, for keys
// that may read a collection other than notes.
const extraCollection = "extras"

// runSpellings tries each spelling with a key of o's with perms (nil: o's
// full-access key) against one served app: REST requests must answer 403
// without any marker in the body, realtime subscriptions must be refused
// with 403. Every request is refused, so one app serves them all.
// "{owner}" as a URL is o's own record.
func runSpellings(t *testing.T, o hookstest.Owner, perms permissions.Set, spellings []spelling, markers []string) {
	t.Helper()
	env := o.New(t)
	defer env.App.Cleanup()
	hookstest.LinkKeysToOwners(t, env.App)
	if err := env.App.Save(core.NewBaseCollection(extraCollection)); err != nil {
		t.Fatal(err)
	}
	srv := env.Serve(t)
	key, keyName := o.Key, o.Kind+"'s full-access key"
	if perms != nil {
		key, _ = issueFor(t, env, o, keystore.Options{Permissions: perms})
		keyName = o.Kind + "'s key with " + perms.Describe()
	}
	for _, sp := range spellings {
		if sp.url == "{owner}" {
			sp.url = o.URL()
		}
		t.Run(keyName+": "+sp.name, func(t *testing.T) {
			if sp.topic != "" {
				topic := strings.NewReplacer("{alice}", hookstest.AliceID, "{note}", hookstest.AliceNoteID).Replace(sp.topic)
				c := connectRealtime(t, srv.URL)
				if res := c.subscribe(t, key, topic); res.StatusCode != http.StatusForbidden {
					t.Fatalf("subscribe %q: status %d, want 403", topic, res.StatusCode)
				}
				return
			}
			status, body := call(t, srv.URL, http.MethodGet, sp.url, "Bearer "+key, "")
			if status != http.StatusForbidden || !strings.Contains(body, `"status":403`) {
				t.Fatalf("GET %s: %d %s, want 403", sp.url, status, body)
			}
			for _, m := range markers {
				if strings.Contains(body, m) {
					t.Fatalf("GET %s leaked %q: %s", sp.url, m, body)
				}
			}
		})
	}
}

func collectionID(t testing.TB, env *hookstest.Env, name string) string {
	t.Helper()
	c, err := env.App.FindCollectionByNameOrId(name)
	if err != nil {
		t.Fatal(err)
	}
	return c.Id
}
