package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

func newRollCommand(app core.App, store *keystore.Store) *cobra.Command {
	var grace string
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "roll ID [--grace " + strings.Join(keystore.GraceNames(), "|") + "]",
		Short:        "Replace a key and print the new one once",
		Long: `Roll an API key: issue a new key with the same owner, label, scope, rate
limit and lifetime, print it once, and make the old key expire after a grace
period, so that clients can switch without downtime. Any user's key can be
named.

Only the new key is printed on stdout (followed by a newline); the new id and
when the old key stops working are described on stderr. --grace is one of
` + orList(keystore.GraceNames()) + ` (default ` + keystore.DefaultGrace + `); an old key that
expires sooner keeps its expiry. A key is rolled once: to roll again, roll its
replacement. The owner gets an email saying a key was created from the CLI.

If the new key cannot be printed (stdout closed), the roll is undone: the new
key is revoked and the old key keeps its expiry, as if nothing happened.`,
		Example: `  KEY=$(pbkeys apikeys roll k1alice00000001)
  pbkeys apikeys roll k1alice00000001 --grace 1h
  pbkeys apikeys roll k1alice00000001 --grace now   # the old key stops at once`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return errors.New("Name the key to roll by id (see \"apikeys list\").")
			case len(args) > 1:
				return fmt.Errorf("Roll one key at a time: %s takes a single id, got %d.", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			period, ok := keystore.GraceNamed(strings.TrimSpace(grace))
			if !ok {
				return fmt.Errorf("--grace: %q is not a grace period: choose %s.", grace, orList(keystore.GraceNames()))
			}
			old, err := store.Find(id)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("No API key with the id %q: nothing was rolled.", id)
			} else if err != nil {
				return fmt.Errorf("cli: find key %s: %w", id, err)
			}
			owners := newOwners(store)
			owner, err := owners.of(old)
			if err != nil {
				return err
			}
			what := fmt.Sprintf("%s %q of %s", old.Id, old.GetString(keystore.FieldLabel), owners.name(old))
			oldExpires := old.GetDateTime(keystore.FieldExpires)

			created, key, err := store.Roll(owner, old.Id, period, cliOrigin())
			switch {
			case errors.Is(err, keystore.ErrAlreadyRolled):
				next := "its replacement"
				if r, ferr := store.Find(old.Id); ferr == nil && r.GetString(keystore.FieldReplacedBy) != "" {
					next += " " + r.GetString(keystore.FieldReplacedBy)
				}
				return fmt.Errorf("The key %s was already rolled, so it was not rolled again: roll %s instead.", what, next)
			case errors.Is(err, sql.ErrNoRows): // revoked meanwhile
				return fmt.Errorf("No API key with the id %q: nothing was rolled.", id)
			case err != nil:
				return saveError("The key was not rolled", err)
			}

			// The new key first, so nothing that follows can lose it. If
			// nobody can read it, undo the roll: a revoked new key with the
			// old key already cut short would leave the client with nothing.
			ignoreSIGPIPE()
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), key.String()); err != nil {
				if uerr := store.UndoRoll(old.Id, created.Id, oldExpires); uerr != nil {
					return fmt.Errorf("The new key %s could not be printed (%v) and the roll could not be undone (%v): "+
						"revoke it with \"apikeys revoke %s\" and check the old key %s with \"apikeys list\".",
						created.Id, err, uerr, created.Id, old.Id)
				}
				return fmt.Errorf("The new key could not be printed (%v), so the roll was undone: the new key was revoked and %s works as before.", err, old.Id)
			}

			errOut := cmd.ErrOrStderr()
			fmt.Fprintf(errOut, "Rolled %s: the new key is %s (%s).\n"+
				"It is shown only once: store it now. The owner is notified by email (mail failures are logged).\n",
				what, created.Id, describe(created))
			if r, err := store.Find(old.Id); err == nil {
				fmt.Fprintln(errOut, oldKeyFate(r, time.Now()))
			}
			store.WaitNotifications()
			return nil
		},
	}
	command.Flags().StringVar(&grace, "grace", keystore.DefaultGrace, "how long the old key keeps working: "+orList(keystore.GraceNames()))
	return command
}

// oldKeyFate says when the rolled key stops working.
func oldKeyFate(old *core.Record, now time.Time) string {
	p := keystore.OptionsOf(old)
	at := p.ExpiresAt.UTC().Format(timeLayout) + " UTC"
	switch {
	case p.ExpiresAt.IsZero(): // cannot happen after a roll; say so plainly
		return fmt.Sprintf("The old key %s keeps working.", old.Id)
	case !p.ExpiresAt.After(now):
		return fmt.Sprintf("The old key %s has stopped working.", old.Id)
	case p.Disabled:
		return fmt.Sprintf("The old key %s stays disabled and expires %s.", old.Id, at)
	}
	return fmt.Sprintf("The old key %s keeps working until %s (in %s).", old.Id, at, humanize.Duration(p.ExpiresAt.Sub(now)))
}

// orList joins names as `"a", "b" or "c"`.
func orList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	if len(quoted) < 2 {
		return strings.Join(quoted, "")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}
