package hooks

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Realtime with API keys. PocketBase keeps the auth record of the request
// that set a client's subscriptions and checks every event against it. A
// key-subscribed client keeps the key's grant on that record, so the
// enrich check knows every event is for a key, and its stream ends when
// the key is revoked, disabled or expires, or its allow-list is changed to
// leave out the stream's address: at once when that happens in this
// process, within about a second when another process does it.

const msgRealtimeClient = "API keys can only subscribe on realtime connections opened through /api/realtime."

// keyClient is the realtime client registered for every connection
// (swapped in on connect). It is PocketBase's own client with one change:
// while a key's subscriptions are set on it, an auth record PocketBase
// stores on it carries the key's grant. PocketBase replaces a client's
// auth record with a fresh copy whenever the owner record is saved, and
// without the grant that copy would be a session's, not a key's.
type keyClient struct {
	subscriptions.Client
}

// clientGrantKey is the client store key of the grant whose subscriptions
// the client has.
const clientGrantKey = "pbkeysGrant"

func (c *keyClient) grant() *grant {
	g, _ := c.Client.Get(clientGrantKey).(*grant)
	return g
}

// Set stores value under key; an auth record stored while a key's
// subscriptions are set gets the key's grant.
func (c *keyClient) Set(key string, value any) {
	if g := c.grant(); g != nil && key == apis.RealtimeClientAuthKey {
		if auth, ok := value.(*core.Record); ok && grantOf(auth) == nil {
			auth = auth.Clone() // the record PocketBase hands to every client
			attachGrant(auth, g)
			value = auth
		}
	}
	c.Client.Set(key, value)
}

func bindRealtimeHooks(app core.App) {
	app.OnRealtimeConnectRequest().BindFunc(func(e *core.RealtimeConnectRequestEvent) error {
		e.Client = &keyClient{Client: e.Client}
		return e.Next()
	})

	// A subscription request with a key: every topic is checked by the
	// policy, on PocketBase's own parse of the topic and its options, and
	// the client remembers the key. Without a key the client forgets any
	// key it had: the request's auth is now the session's.
	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		// No one's topic may filter on api_keys' hash: an event that
		// arrives or not would say whether a guess of it is right.
		topics := parseTopics(e.Subscriptions)
		for topic, options := range topics {
			if c := topicCollection(e.App, topic); c != nil &&
				readsKeyHash(e.App, c, &core.RequestInfo{Query: options.Query, Auth: e.Auth}, false) {
				return e.BadRequestError(msgNoHashSearch, nil)
			}
		}
		client, ours := e.Client.(*keyClient)
		g := grantOf(e.Auth)
		if g == nil {
			if ours {
				client.Unset(clientGrantKey)
			}
			return e.Next()
		}
		if !ours {
			return e.ForbiddenError(msgRealtimeClient, nil)
		}
		for topic, options := range topics {
			c := topicCollection(e.App, topic)
			if c == nil {
				continue // not a collection topic: PocketBase sends it no records
			}
			// The RequestInfo PocketBase builds for each event of this topic.
			info := &core.RequestInfo{
				Context: core.RequestInfoContextRealtime,
				Method:  "GET",
				Query:   options.Query,
				Headers: options.Headers,
				Auth:    e.Auth,
			}
			if err := checkAccess(e.App, g, access{action: actionSubscribe, collection: c, info: info}); err != nil {
				return err
			}
		}
		client.Set(clientGrantKey, g)
		return e.Next()
	})

	// A revoked key must receive no further events: drop the auth of every
	// client it subscribed and close their streams. A client that
	// reconnects with the same key gets 401.
	app.OnRecordAfterDeleteSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		endKeyStreams(e.App, func(g *grant, _ string) bool { return g.keyID == e.Record.Id })
		return e.Next()
	})
	// Disabled (or given a past expiry) here: the same, at once. Given
	// other permissions or addresses: the same too — a stream keeps the
	// grant it was opened with, so it must be opened again under the new
	// ones (its client reconnects and subscribes again, checked anew).
	app.OnRecordAfterUpdateSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		now := keystore.OptionsOf(e.Record)
		changed := now.Usable(time.Now()) != nil || !sameReach(now, keystore.OptionsOf(e.Record.Original()))
		endKeyStreams(e.App, func(g *grant, _ string) bool { return changed && g.keyID == e.Record.Id })
		return e.Next()
	})

	// Changes made elsewhere — the CLI is another process — and expiry,
	// which happens without a change, are found by the sweeper below
	// within a second; before each message the key's expiry is checked in
	// memory, so no event is sent past it. Nothing here reads the database
	// per message: a message to a key-subscribed client costs what it
	// costs for a session's.
	app.OnRealtimeMessageSend().BindFunc(func(e *core.RealtimeMessageEvent) error {
		if g := clientGrant(e.Client); g != nil && g.options.Expired(time.Now()) {
			endKeyStream(e.Client)
			return errKeyStreamEnded
		}
		return e.Next()
	})

	sweeper := &streamSweeper{app: app, interval: streamSweepInterval}
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		sweeper.start()
		return e.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		sweeper.stop()
		return e.Next()
	})
}

var errKeyStreamEnded = errors.New("pbkeys: the API key of this realtime stream is no longer usable")

// streamSweepInterval is how often the keys of open realtime streams are
// read again: how long a key revoked or disabled by another process (or
// expired) may keep an idle stream open.
const streamSweepInterval = time.Second

// streamSweeper reads the keys of every key-subscribed realtime client
// once per interval — one query for all of them, however many clients
// share a key — and ends the streams of keys that are gone, disabled or
// expired, or whose permissions or addresses changed.
type streamSweeper struct {
	app      core.App
	interval time.Duration

	once sync.Once
	quit chan struct{}
	done chan struct{}
}

func (s *streamSweeper) start() {
	s.once.Do(func() {
		s.quit, s.done = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(s.done)
			t := time.NewTicker(s.interval)
			defer t.Stop()
			for {
				select {
				case <-s.quit:
					return
				case <-t.C:
					s.sweep()
				}
			}
		}()
	})
}

func (s *streamSweeper) stop() {
	if s.quit != nil {
		close(s.quit)
		<-s.done
		s.quit = nil
	}
}

// sweep ends the streams of keys that may no longer be used, and those of
// keys whose allow-list no longer includes the stream's address.
func (s *streamSweeper) sweep() {
	var ids []any
	seen := map[string]bool{}
	for _, client := range s.app.SubscriptionsBroker().Clients() {
		if g := clientGrant(client); g != nil && !seen[g.keyID] {
			seen[g.keyID] = true
			ids = append(ids, g.keyID)
		}
	}
	if len(ids) == 0 {
		return
	}
	type keyRow struct {
		ID          string         `db:"id"`
		Disabled    bool           `db:"disabled"`
		Expires     types.DateTime `db:"expires"`
		Permissions types.JSONRaw  `db:"permissions"`
		AllowedIPs  types.JSONRaw  `db:"allowed_ips"`
	}
	stored := make(map[string]keystore.Options, len(ids))
	for chunk := range slices.Chunk(ids, 500) { // well below SQLite's limit on parameters
		var rows []keyRow
		err := s.app.ConcurrentDB().Select("id", keystore.FieldDisabled, keystore.FieldExpires, keystore.FieldPermissions, keystore.FieldAllowedIPs).
			From(keystore.Collection).Where(dbx.In("id", chunk...)).All(&rows)
		if err != nil {
			s.app.Logger().Warn("API key: failed to check the keys of realtime streams", "error", err)
			return
		}
		for _, r := range rows {
			o := keystore.Options{Disabled: r.Disabled, ExpiresAt: r.Expires.Time()}
			o.Permissions, o.AllowedIPs = keystore.ParseReach(r.Permissions, r.AllowedIPs)
			stored[r.ID] = o
		}
	}
	now := time.Now()
	endKeyStreams(s.app, func(g *grant, addr string) bool {
		o, ok := stored[g.keyID]
		return !ok || o.Usable(now) != nil || !sameReach(o, g.options) || !o.AllowedIPs.Allows(addr)
	})
}

// sameReach reports whether a and b give the same permissions and
// addresses.
func sameReach(a, b keystore.Options) bool {
	return (a.Permissions == nil) == (b.Permissions == nil) && maps.Equal(a.Permissions, b.Permissions) &&
		(a.AllowedIPs == nil) == (b.AllowedIPs == nil) && slices.Equal(a.AllowedIPs, b.AllowedIPs)
}

// endKeyStreams ends the streams of the key-subscribed clients whose grant
// and address match. The address is the one PocketBase stored on connect
// (e.RealIP()); it requires every subscription request to come from it.
func endKeyStreams(app core.App, match func(g *grant, addr string) bool) {
	for _, client := range app.SubscriptionsBroker().Clients() {
		if g := clientGrant(client); g != nil {
			addr, _ := client.Get(apis.RealtimeClientIPKey).(string)
			if match(g, addr) {
				endKeyStream(client)
			}
		}
	}
}

// clientGrant returns the grant of a key-subscribed realtime client.
func clientGrant(client subscriptions.Client) *grant {
	g, _ := client.Get(clientGrantKey).(*grant)
	return g
}

// endKeyStream forgets a realtime client's key auth and closes its stream.
func endKeyStream(client subscriptions.Client) {
	client.Unset(clientGrantKey)
	client.Unset(apis.RealtimeClientAuthKey)
	client.Discard()
}

// parseTopics returns the subscription topics with their options exactly
// as PocketBase will read them: it lets PocketBase's own client parse them
// (options JSON with values of any type, malformed extra parameters).
func parseTopics(topics []string) map[string]subscriptions.SubscriptionOptions {
	parsed := subscriptions.NewDefaultClient()
	parsed.Subscribe(topics...)
	return parsed.Subscriptions()
}

// topicCollection returns the collection whose records a topic receives,
// or nil. PocketBase sends a record to the topics that start with the
// collection's name or id followed by "/" or "?" ("notes/*", "notes/ID",
// "notes?options=..."); names are matched here in any case, which may
// refuse a topic PocketBase would leave empty, never the reverse.
func topicCollection(app core.App, topic string) *core.Collection {
	name := topic
	if i := strings.IndexAny(topic, "/?"); i >= 0 {
		name = topic[:i]
	}
	c, err := app.FindCachedCollectionByNameOrId(name)
	if err != nil {
		return nil
	}
	return c
}
