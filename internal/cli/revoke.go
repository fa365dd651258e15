package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

func newRevokeCommand(app core.App, store *keystore.Store) *cobra.Command {
	var (
		userArg string
		all     bool
	)
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "revoke ID... | revoke --user EMAIL_OR_ID --all",
		Short:        "Revoke keys by id, or every key of a user",
		Long: `Revoke (delete) API keys: the named ones, or every key of one user.
A revoked key stops working at once, including open realtime connections.

Revoking by id is all or nothing: if any id matches no key, nothing is
revoked and the command fails naming the unknown ids. With --user, the ids
must also belong to that user (a safety check against a mistyped id).
--all needs --user and revokes every key of that user; a user with no keys is
not an error.`,
		Example: `  pbkeys apikeys revoke k1alice00000001
  pbkeys apikeys revoke k1alice00000001 k3alice00000002
  pbkeys apikeys revoke --user alice@example.com k1alice00000001
  pbkeys apikeys revoke --user alice@example.com --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var owner *core.Record
			if cmd.Flags().Changed("user") {
				var err error
				if owner, err = findOwner(store, userArg); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()

			switch {
			case all && len(args) > 0:
				return errors.New("Give key ids or --all, not both.")
			case all && owner == nil:
				return errors.New("--all needs --user: name the user whose keys to revoke (revoking every user's keys at once is not supported).")
			case all:
				n, err := store.RevokeAll(owner, cliOrigin())
				if err != nil {
					return fmt.Errorf("cli: revoke all keys of %s: %w", owner.Id, err)
				}
				if n == 0 {
					_, err = fmt.Fprintf(out, "%s has no API keys: nothing to revoke.\n", store.OwnerRef(owner))
					return err
				}
				_, err = fmt.Fprintf(out, "Revoked %d API %s of %s.\n", n, plural(n, "key", "keys"), store.OwnerRef(owner))
				return err
			}
			ids := uniqueTrimmed(args)
			if len(ids) == 0 {
				return errors.New("Name the keys to revoke by id (see \"apikeys list\"), or revoke every key of a user with --user EMAIL_OR_ID --all.")
			}
			// Who owned them, read before they go.
			owners := newOwners(store)
			for _, id := range ids {
				if r, err := store.Find(id); err == nil {
					_, _ = owners.of(r)
				}
			}
			revoked, err := store.RevokeIDs(ids, owner, cliOrigin())
			var missing *keystore.MissingKeysError
			if errors.As(err, &missing) {
				return unknownKeysError(store, missing.IDs, owner)
			}
			if err != nil {
				return fmt.Errorf("cli: revoke keys: %w", err)
			}
			for _, r := range revoked {
				if _, err := fmt.Fprintf(out, "Revoked %s %q of %s.\n",
					r.Id, r.GetString(keystore.FieldLabel), owners.name(r)); err != nil {
					return err
				}
			}
			return nil
		},
	}
	command.Flags().StringVar(&userArg, "user", "", "the owner: with --all, whose keys to revoke; with ids, who must own them")
	command.Flags().BoolVar(&all, "all", false, "revoke every key of --user")
	return command
}

func unknownKeysError(store *keystore.Store, missing []string, owner *core.Record) error {
	quoted := make([]string, len(missing))
	for i, id := range missing {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	what := "No API key with the id " + quoted[0]
	if len(missing) > 1 {
		what = "No API keys with the ids " + strings.Join(quoted, ", ")
	}
	if owner != nil {
		what += " " + plural(len(missing), "belongs", "belong") + " to " + store.OwnerRef(owner)
	}
	return errors.New(what + ": nothing was revoked.")
}

func uniqueTrimmed(args []string) []string {
	var out []string
	for _, a := range args {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
