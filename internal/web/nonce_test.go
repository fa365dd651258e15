package web

import (
	"testing"
	"time"
)

func TestFormNonces(t *testing.T) {
	n := newFormNonces(time.Hour)
	now := time.Now()
	a := n.issue("alice", now)

	if st, _ := n.begin("bob", a, now); st != nonceUnknown {
		t.Error("Bob can use Alice's nonce")
	}
	if st, _ := n.begin("alice", a, now); st != nonceFresh {
		t.Fatal("fresh nonce refused")
	}
	// A concurrent second submit while the first is creating.
	if st, label := n.begin("alice", a, now); st != nonceUsed || label != "" {
		t.Errorf("pending nonce: %v %q", st, label)
	}
	// A failed create gives it back.
	n.release("alice", a, now)
	if st, _ := n.begin("alice", a, now); st != nonceFresh {
		t.Fatal("released nonce refused")
	}
	n.finish("alice", a, "CI", now)
	if st, label := n.begin("alice", a, now); st != nonceUsed || label != "CI" {
		t.Errorf("used nonce: %v %q", st, label)
	}
	n.release("alice", a, now) // a late release does not revive a used nonce
	if st, _ := n.begin("alice", a, now); st != nonceUsed {
		t.Error("used nonce revived")
	}

	// Expiry.
	b := n.issue("alice", now)
	if st, _ := n.begin("alice", b, now.Add(time.Hour)); st != nonceUnknown {
		t.Error("expired nonce accepted")
	}
	if _, ok := n.byUser["alice"]; ok {
		t.Error("expired nonces are kept")
	}

	// At most perUser live nonces per user: the oldest go first.
	first := n.issue("carol", now)
	var last string
	for i := 0; i < n.perUser; i++ {
		last = n.issue("carol", now)
	}
	if len(n.byUser["carol"]) != n.perUser {
		t.Errorf("carol has %d nonces, want %d", len(n.byUser["carol"]), n.perUser)
	}
	if st, _ := n.begin("carol", first, now); st != nonceUnknown {
		t.Error("oldest nonce not dropped")
	}
	if st, _ := n.begin("carol", last, now); st != nonceFresh {
		t.Error("newest nonce dropped")
	}
}
