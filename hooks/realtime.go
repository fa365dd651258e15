package hooks

import (
	"errors"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// Realtime with API keys. PocketBase keeps the auth record of the request
// that set a client's subscriptions and checks every event against it. A
// key-subscribed client keeps the key's grant on that record, so the
// enrich check knows every event is for a key, and its stream ends when
// the key is revoked, disabled or expires.

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
		for topic, options := range parseTopics(e.Subscriptions) {
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
		for _, client := range e.App.SubscriptionsBroker().Clients() {
			if g := clientGrant(client); g != nil && g.keyID == e.Record.Id {
				endKeyStream(client)
			}
		}
		return e.Next()
	})

	// Expiry and disabling happen without a delete, so before each message
	// to a key's stream the key is read again (one primary-key lookup): a
	// key that is gone, expired or disabled gets no message and its stream
	// ends.
	app.OnRealtimeMessageSend().BindFunc(func(e *core.RealtimeMessageEvent) error {
		g := clientGrant(e.Client)
		if g == nil {
			return e.Next()
		}
		record, err := e.App.FindRecordById(keystore.Collection, g.keyID)
		if err != nil || keystore.PolicyOf(record).Usable(time.Now()) != nil {
			endKeyStream(e.Client)
			return errKeyStreamEnded
		}
		return e.Next()
	})
}

var errKeyStreamEnded = errors.New("pbkeys: the API key of this realtime stream is no longer usable")

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
