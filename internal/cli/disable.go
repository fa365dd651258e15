package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// newSetDisabledCommand returns "disable" (disable true) or "enable".
func newSetDisabledCommand(app core.App, store *keystore.Store, disable bool) *cobra.Command {
	verb, done, undo := "enable", "Enabled", "disable"
	short := "Resume disabled keys"
	long := `Enable (resume) disabled API keys: they work again at once, with the same
key, label, scope and limits. Any user's keys can be named.

Enabling is all or nothing: if any id matches no key, nothing is enabled and
the command fails naming the unknown ids. An expired key is enabled but still
does not work; the command warns on stderr and suggests rolling it.`
	if disable {
		verb, done, undo = "disable", "Disabled", "enable"
		short = "Pause keys without revoking them"
		long = `Disable (pause) API keys without losing them: a disabled key is refused
with 401 "disabled", open realtime connections included, until it is enabled
again with "enable". Any user's keys can be named.

Disabling is all or nothing: if any id matches no key, nothing is disabled
and the command fails naming the unknown ids.`
	}
	return &cobra.Command{
		SilenceUsage: true,
		Use:          verb + " ID...",
		Short:        short,
		Long:         long,
		Example: fmt.Sprintf(`  pbkeys apikeys %s k1alice00000001
  pbkeys apikeys %s k1alice00000001 k3alice00000002
  pbkeys apikeys %s k1alice00000001   # undo`, verb, verb, undo),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids := uniqueTrimmed(args)
			if len(ids) == 0 {
				return fmt.Errorf("Name the keys to %s by id (see \"apikeys list\").", verb)
			}
			// Every id first: one unknown id changes nothing.
			records := make([]*core.Record, 0, len(ids))
			var missing []string
			for _, id := range ids {
				r, err := store.Find(id)
				switch {
				case err == nil:
					records = append(records, r)
				case errors.Is(err, sql.ErrNoRows):
					missing = append(missing, id)
				default:
					return fmt.Errorf("cli: find key %s: %w", id, err)
				}
			}
			if len(missing) > 0 {
				return notChangedError(missing, "nothing was "+verb+"d")
			}
			owners := newOwners(store)

			out := cmd.OutOrStdout()
			now := time.Now()
			for _, r := range records {
				owner, err := owners.of(r)
				if err != nil {
					return err
				}
				was := r.GetBool(keystore.FieldDisabled)
				// The one implementation of pausing, as the pages and REST use.
				updated, err := store.SetDisabled(owner, r.Id, disable, cliOrigin())
				if err != nil {
					return fmt.Errorf("cli: %s key %s: %w", verb, r.Id, err)
				}
				what := fmt.Sprintf("%s %q of %s", r.Id, updated.GetString(keystore.FieldLabel), owners.name(r))
				if was == disable {
					_, err = fmt.Fprintf(out, "Already %sd: %s.\n", verb, what)
				} else {
					_, err = fmt.Fprintf(out, "%s %s.\n", done, what)
				}
				if err != nil {
					return err
				}
				if !disable {
					warnExpired(cmd, updated, what, now)
				}
			}
			return nil
		},
	}
}

// warnExpired tells the operator, on stderr, that an enabled key is still
// refused because it expired, and what to do instead.
func warnExpired(cmd *cobra.Command, r *core.Record, what string, now time.Time) {
	exp := keystore.OptionsOf(r).ExpiresAt
	if exp.IsZero() || exp.After(now) {
		return
	}
	advice := fmt.Sprintf("roll it (\"apikeys roll %s\") for a working key with the same label and scope", r.Id)
	if next := r.GetString(keystore.FieldReplacedBy); next != "" {
		advice = fmt.Sprintf("it was rolled: use its replacement %s", next)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s expired at %s UTC, so it still does not work: %s.\n",
		what, exp.UTC().Format(timeLayout), advice)
}

// notChangedError names ids that match no key.
func notChangedError(missing []string, outcome string) error {
	what := fmt.Sprintf("No API key with the id %q", missing[0])
	if len(missing) > 1 {
		what = "No API keys with the ids "
		for i, id := range missing {
			if i > 0 {
				what += ", "
			}
			what += fmt.Sprintf("%q", id)
		}
	}
	return errors.New(what + ": " + outcome + ".")
}
