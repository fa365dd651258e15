// Package permissions is what a key with permissions may reach: a level
// (none, read, write) per collection, a default for the collections it
// does not name, and a level for the routes an app adds. It knows the
// format only; which collections exist and which a key may be given is the
// keystore's question, and what a request needs is the policy's (hooks).
package permissions

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Level is how far a key may go in a collection.
type Level int

// The levels, each including the one before it.
const (
	None  Level = iota // not reachable
	Read               // list, view, realtime, file downloads and tokens; expand, filter, sort and relations reaching it
	Write              // read, and create, update, delete
)

// levelNames are the levels as REST, the pages and the CLI write them.
var levelNames = []string{None: "none", Read: "read", Write: "write"}

// String returns the level's name: "none", "read" or "write".
func (l Level) String() string {
	if l < None || l > Write {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level's name, exactly as String writes it.
func ParseLevel(s string) (Level, bool) {
	i := slices.Index(levelNames, s)
	return Level(max(i, 0)), i >= 0
}

// Names with a meaning of their own in a Set, beside collection names
// (which never start with "*" or "@").
const (
	// Others is the level of every collection the set does not name.
	Others = "*"

	// Routes is the level for routes the app adds (pb_hooks routerAdd, Go
	// routes) and PocketBase's routes that are not about records: read
	// allows GET, HEAD and OPTIONS, write any method. Not named: refused.
	Routes = "@routes"
)

// MaxEntries bounds a set.
const MaxEntries = 100

// Set maps names (collections, Others, Routes) to levels. A nil Set is full
// access: a key without permissions reaches what its owner reaches.
type Set map[string]Level

// Full reports whether s is full access (no permissions set).
func (s Set) Full() bool { return s == nil }

// Of returns the level s gives the named collection.
func (s Set) Of(collection string) Level {
	if s == nil {
		return Write
	}
	if l, ok := s[collection]; ok {
		return l
	}
	return s[Others]
}

// Allows reports whether s gives the named collection at least level l.
func (s Set) Allows(collection string, l Level) bool {
	return s.Of(collection) >= l
}

// RoutesLevel returns the level s gives the routes an app adds.
func (s Set) RoutesLevel() Level {
	if s == nil {
		return Write
	}
	return s[Routes]
}

// Collections returns the collection names s sets a level for, sorted
// (neither Others nor Routes).
func (s Set) Collections() []string {
	var names []string
	for name := range s {
		if IsCollectionName(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// IsCollectionName reports whether name in a set names a collection (not
// Others or Routes).
func IsCollectionName(name string) bool {
	return name != Others && name != Routes
}

var describeLevel = []string{None: "no access to", Read: "read", Write: "write"}

// Describe returns s as people read it: "write shipments; read orders;
// other collections: read; app routes: read" (the last two only when set);
// "full access" for a nil set, "nothing" for one that reaches nothing.
func (s Set) Describe() string {
	if s == nil {
		return "full access"
	}
	var byLevel [Write + 1][]string
	for _, name := range s.Collections() {
		byLevel[s[name]] = append(byLevel[s[name]], name)
	}
	var parts []string
	for _, l := range []Level{Write, Read, None} {
		if len(byLevel[l]) > 0 {
			parts = append(parts, describeLevel[l]+" "+strings.Join(byLevel[l], ", "))
		}
	}
	out := strings.Join(parts, "; ")
	if l, ok := s[Others]; ok {
		out = join(out, "other collections: "+l.String())
	}
	if l := s[Routes]; l > None {
		out = join(out, "app routes: "+l.String())
	}
	if out == "" {
		return "nothing"
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// MarshalJSON writes s as REST shows it: {"orders":"read"}, or null for
// full access.
func (s Set) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	m := make(map[string]string, len(s))
	for name, l := range s {
		m[name] = l.String()
	}
	return json.Marshal(m)
}

// FormatError says what is wrong with the input, as a sentence without
// its capital and full stop (the caller adds them where it shows it).
type FormatError string

func (e FormatError) Error() string { return string(e) }

// Is makes every FormatError match ErrFormat.
func (e FormatError) Is(target error) bool { return target == ErrFormat }

// ErrFormat matches every error Parse returns (errors.Is).
var ErrFormat = errors.New("permissions: bad format")

// Parse reads a set as REST takes it and the database stores it: a JSON
// object from name to "none", "read" or "write"; null or empty input is
// full access (nil). Anything else is an error that says what is wrong,
// never a set that reaches more than was written. Which collection names
// exist is not checked here.
func Parse(raw []byte) (Set, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil || m == nil {
		return nil, FormatError(`permissions must be an object from collection name to "read" or "write", e.g. {"orders":"read","shipments":"write"}, or null for full access`)
	}
	if len(m) == 0 {
		return nil, FormatError(`permissions cannot be empty: name at least one collection, or send null for full access`)
	}
	if len(m) > MaxEntries {
		return nil, FormatError(fmt.Sprintf("permissions can name at most %d collections", MaxEntries))
	}
	s := make(Set, len(m))
	for name, v := range m {
		text, _ := v.(string)
		l, ok := ParseLevel(text)
		if !ok {
			return nil, FormatError(fmt.Sprintf(`the permission for %q must be "read", "write" or "none", not %s`, name, quoteJSON(v)))
		}
		if name == "" || (strings.HasPrefix(name, "@") && name != Routes) || (strings.HasPrefix(name, "*") && name != Others) {
			return nil, FormatError(fmt.Sprintf("%q is not a collection name (%q stands for every other collection, %q for the routes the app adds)", name, Others, Routes))
		}
		s[name] = l
	}
	return s, nil
}

func quoteJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
