package keystore_test

import (
	"slices"
	"testing"

	"github.com/pbkeys/pbkeys/hooks/hookstest"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// TestScopableCollectionsAreWhatSavingAccepts: a key scoped to a
// collection saves exactly when ScopableCollections lists it, for every
// collection of the app, so the pages (which offer that list) and the
// record rules cannot disagree.
func TestScopableCollectionsAreWhatSavingAccepts(t *testing.T) {
	env := hookstest.New(t)
	t.Cleanup(env.App.Cleanup)
	scopable, err := keystore.ScopableCollections(env.App)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range scopable {
		names = append(names, c.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("not ordered by name: %v", names)
	}
	for _, want := range []string{"users", hookstest.NotesCollection, hookstest.SecretsCollection, hookstest.CommentsCollection} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not scopable: %v", want, names)
		}
	}

	all, err := env.App.FindAllCollections()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		_, _, err := env.Store.Issue(env.Alice(t), keystore.Options{Label: "scoped", Permissions: permissions.Set{c.Name: permissions.Read}}, keystore.Origin{})
		listed := slices.Contains(names, c.Name)
		if listed != (err == nil) {
			t.Errorf("%s: listed=%v, saving it: %v", c.Name, listed, err)
		}
		if listed != keystore.IsScopable(c) {
			t.Errorf("%s: listed=%v, IsScopable=%v", c.Name, listed, keystore.IsScopable(c))
		}
	}
	for _, never := range []string{keystore.Collection, keystore.UsageCollection, "_superusers", "_mfas", "_otps", "_externalAuths", "_authOrigins"} {
		if slices.Contains(names, never) {
			t.Errorf("%s is offered as a scope", never)
		}
	}
}
