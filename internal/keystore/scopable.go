package keystore

import (
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// The collections a key may be given permissions on (its "permissions") are
// defined here once: the record rules refuse any other (validateLifecycle)
// and the pages offer exactly these, so a form never offers a choice that
// saving then refuses.

// IsScopable reports whether a key may be scoped to c: one of the app's own
// collections. PocketBase's system collections (_superusers and the
// bookkeeping of sign-ins: _mfas, _otps, _externalAuths, _authOrigins) and
// pbkeys' own (IsKeysCollection), which no key may touch at all, are not.
func IsScopable(c *core.Collection) bool {
	return !c.System && !IsKeysCollection(c.Name)
}

// ScopableCollections returns the collections a key may be scoped to,
// ordered by name.
func ScopableCollections(app core.App) ([]*core.Collection, error) {
	all, err := app.FindAllCollections()
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(c *core.Collection) bool { return !IsScopable(c) })
	slices.SortFunc(out, func(a, b *core.Collection) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
