package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// formNonces makes "create a key" idempotent per form. Each New API key
// form carries a one-time nonce, kept here and bound to the signed-in user.
// Creating a key uses it up, so a resubmitted POST (reload of the reveal,
// Back then Forward, a double click) finds it used and issues no second
// key. A used nonce is remembered until it expires, so the page can say
// what happened instead of a vague error.
//
// State is per process and in memory: after a restart an old form is
// "expired" and is sent again with its typed label, which is harmless.
type formNonces struct {
	mu      sync.Mutex
	ttl     time.Duration
	perUser int
	byUser  map[string][]*formNonce // oldest first
}

type formNonce struct {
	value   string
	expires time.Time
	state   nonceState
	label   string // of the key it created, once used
}

type nonceState int

const (
	nonceUnknown nonceState = iota // never issued to this user, or expired
	nonceFresh                     // issued, not used
	noncePending                   // a create with it is running
	nonceUsed                      // a key was created with it
)

func newFormNonces(ttl time.Duration) *formNonces {
	return &formNonces{ttl: ttl, perUser: 128, byUser: map[string][]*formNonce{}}
}

// issue returns a new nonce for userID. A user keeps at most perUser
// nonces; the oldest are dropped first, which only expires old forms.
func (n *formNonces) issue(userID string, now time.Time) string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	value := base64.RawURLEncoding.EncodeToString(b[:])

	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.live(userID, now)
	if len(list) >= n.perUser {
		list = list[len(list)-n.perUser+1:]
	}
	n.byUser[userID] = append(list, &formNonce{value: value, expires: now.Add(n.ttl), state: nonceFresh})
	return value
}

// begin claims value for a create. It returns nonceFresh when the caller
// may create a key (and must then call finish or release), nonceUsed
// (with the created key's label, "" while another request is creating
// with it) or nonceUnknown.
func (n *formNonces) begin(userID, value string, now time.Time) (nonceState, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.find(userID, value, now)
	switch {
	case f == nil:
		return nonceUnknown, ""
	case f.state == nonceFresh:
		f.state = noncePending
		return nonceFresh, ""
	default:
		return nonceUsed, f.label
	}
}

// finish marks value used by a key labelled label.
func (n *formNonces) finish(userID, value, label string, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f := n.find(userID, value, now); f != nil {
		f.state, f.label = nonceUsed, label
	}
}

// release makes value usable again: the create failed (e.g. an empty
// label) and the same form may be sent again.
func (n *formNonces) release(userID, value string, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f := n.find(userID, value, now); f != nil && f.state == noncePending {
		f.state = nonceFresh
	}
}

func (n *formNonces) find(userID, value string, now time.Time) *formNonce {
	if value == "" {
		return nil
	}
	for _, f := range n.live(userID, now) {
		if subtle.ConstantTimeCompare([]byte(f.value), []byte(value)) == 1 {
			return f
		}
	}
	return nil
}

// live drops userID's expired nonces and returns the rest.
func (n *formNonces) live(userID string, now time.Time) []*formNonce {
	list := n.byUser[userID]
	i := 0
	for i < len(list) && !now.Before(list[i].expires) {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(n.byUser, userID)
		return nil
	}
	n.byUser[userID] = list
	return list
}
