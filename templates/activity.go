package templates

// ActivityView is a key's Activity page: its events, newest first.
type ActivityView struct {
	Account Account
	KeyID   string
	Label   string  // the key's label (as its last event had it, once revoked)
	Key     *KeyRow // nil once the key is revoked: its events outlive it
	Events  []EventRow
	Days    int // how long events are kept
}

// EventRow is one event of a key, as people read it.
type EventRow struct {
	Action    string // the action's name, as REST and the CLI write it ("rolled")
	Text      string // "Rolled", "Revoked: found exposed"
	Detail    string // "replaced by k2…; works until 2026-01-02 15:04:05 UTC"; may be empty
	Actor     string // "You", "Superuser a1b2c3", "CLI (root)", "System"
	IP        string // may be empty
	UserAgent string // may be empty
	Time      Time
}

func activityTitle(v ActivityView) string {
	return "Activity of \u2018" + v.Label + "\u2019"
}
