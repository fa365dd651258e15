package hooks

import (
	"errors"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"pbkeys/internal/keystore"
)

// realtimeClientKeyID is the realtime client store key holding the id of
// the API key whose request set the client's subscriptions.
const realtimeClientKeyID = "pbkeysAPIKeyID"

const msgNoKeyTopics = "API keys cannot subscribe to API keys."

func bindRealtimeHooks(app core.App) {
	// PocketBase keeps the auth of the request that set the subscriptions
	// until the owner's tokenKey changes or the connection ends. Remember
	// which key that was, so revoking the key can end its stream.
	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		key := APIKeyFrom(e)
		if key == nil {
			e.Client.Unset(realtimeClientKeyID)
			return e.Next()
		}
		for _, sub := range e.Subscriptions {
			name, query := topicCollection(sub)
			if isKeysTopic(e.App, name) || readsKeys(e.App, name, query) {
				return e.ForbiddenError(msgNoKeyTopics, nil)
			}
		}
		e.Client.Set(realtimeClientKeyID, key.Id)
		return e.Next()
	})

	// A revoked key must receive no further events: drop the auth of every
	// client it subscribed and close their streams. A client that
	// reconnects with the same key gets 401.
	app.OnRecordAfterDeleteSuccess(keystore.Collection).BindFunc(func(e *core.RecordEvent) error {
		for _, client := range e.App.SubscriptionsBroker().Clients() {
			if id, _ := client.Get(realtimeClientKeyID).(string); id == e.Record.Id {
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
		id, _ := e.Client.Get(realtimeClientKeyID).(string)
		if id == "" {
			return e.Next()
		}
		record, err := e.App.FindRecordById(keystore.Collection, id)
		if err != nil || keystore.PolicyOf(record).Usable(time.Now()) != nil {
			endKeyStream(e.Client)
			return errKeyStreamEnded
		}
		return e.Next()
	})
}

var errKeyStreamEnded = errors.New("pbkeys: the API key of this realtime stream is no longer usable")

// endKeyStream forgets a realtime client's key auth and closes its stream.
func endKeyStream(client subscriptions.Client) {
	client.Unset(apis.RealtimeClientAuthKey)
	client.Unset(realtimeClientKeyID)
	client.Discard()
}

// isKeysTopic reports whether a realtime topic's collection (by name or id)
// is api_keys.
func isKeysTopic(app core.App, name string) bool {
	if name == keystore.Collection {
		return true
	}
	c, err := app.FindCachedCollectionByNameOrId(keystore.Collection)
	return err == nil && name == c.Id
}
