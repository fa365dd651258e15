package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

func newCreateCommand(app core.App, store *keystore.Store) *cobra.Command {
	var (
		userArg, label, expires, collections string
		readOnly                             bool
		rate                                 int
	)
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "create --user EMAIL_OR_ID --label LABEL [flags]",
		Short:        "Create a key and print it once",
		Long: `Create an API key owned by a record (a user, by default) and print it, once.

Only the key is printed on stdout (followed by a newline), so it can be
captured or piped; what was created is described on stderr. pbkeys keeps only
a hash of the key: store it now, it cannot be shown again. The owner gets an
email saying a key was created from the CLI.

--expires takes "never" (the default), a number of days like 90d, a number
of hours like 12h, a date like 2027-01-31 (the key works through that day,
UTC), or an RFC 3339 time like 2027-01-31T18:00:00Z.`,
		Example: `  pbkeys apikeys create --user alice@example.com --label CI
  KEY=$(pbkeys apikeys create --user alice@example.com --label CI --expires 90d)
  pbkeys apikeys create --user alice@example.com --label Dashboard --read-only --collections notes,tasks
  pbkeys apikeys create --user u1alice00000000 --label Importer --expires 2027-01-31 --rate 600`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("label") {
				return errors.New("Give the key a label with --label, saying what it is for (e.g. --label CI).")
			}
			owner, err := findOwner(store, userArg)
			if err != nil {
				return err
			}
			opts := keystore.Options{Label: label, ReadOnly: readOnly, RatePerMinute: rate}
			if opts.ExpiresAt, err = humanize.ParseExpiry(expires, time.Now()); err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			if err := checkRate(app, rate); err != nil {
				return err
			}
			if cmd.Flags().Changed("collections") {
				if opts.Collections = splitList(collections); len(opts.Collections) == 0 {
					return errors.New("--collections: Name at least one collection, or leave the flag out for a key that may reach every collection.")
				}
			}

			record, key, err := store.Issue(owner, opts, keystore.Origin{
				Via:       "CLI",
				IP:        "local",
				UserAgent: userAgent(),
			})
			if err != nil {
				return saveError("The key was not created", err)
			}
			// The key first, so nothing that follows can lose it. A key
			// nobody could read (stdout closed, disk full) is only a
			// liability: revoke it at once. Without SIGPIPE ignored, a
			// closed pipe would kill the process before it could.
			ignoreSIGPIPE()
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), key.String()); err != nil {
				if _, derr := store.Revoke(owner, record.Id); derr != nil {
					return fmt.Errorf("The key %s could not be printed (%v) and could not be revoked (%v): revoke it with \"apikeys revoke %s\".", record.Id, err, derr, record.Id)
				}
				return fmt.Errorf("The key could not be printed (%v), so it was revoked at once.", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Created API key %s %q for %s (%s).\n"+
				"It is shown only once: store it now. The owner is notified by email (mail failures are logged).\n",
				record.Id, record.GetString(keystore.FieldLabel), store.OwnerRef(owner), describe(record))
			// The owner's email is sent in the background: wait for it, or
			// the process would exit before it leaves.
			store.WaitNotifications()

			return nil
		},
	}
	f := command.Flags()
	f.StringVar(&userArg, "user", "", "the owner: EMAIL_OR_ID, or COLLECTION/EMAIL_OR_ID for an owner of another collection (required)")
	f.StringVar(&label, "label", "", "what the key is for (required)")
	f.StringVar(&expires, "expires", "never", `when the key stops working: "never", "90d", "12h", "2027-01-31" or an RFC 3339 time`)
	f.BoolVar(&readOnly, "read-only", false, "allow only reads (GET, HEAD and realtime subscriptions)")
	f.StringVar(&collections, "collections", "", "comma-separated collections the key is limited to (default: all)")
	f.Var(rateFlag{&rate}, "rate", "requests per minute the key may make (default 0: no limit)")
	return command
}

// describe says briefly what a key may do and until when: "Read-only ·
// notes; 600 requests/min; expires 2027-02-01 00:00 UTC".
func describe(record *core.Record) string {
	p := keystore.OptionsOf(record)
	until := "never expires"
	if !p.ExpiresAt.IsZero() {
		until = "expires " + p.ExpiresAt.UTC().Format(timeLayout) + " UTC"
	}
	return humanize.Scope(p) + "; " + humanize.Rate(p) + "; " + until
}

// checkRate refuses a rate the api_keys schema would refuse, with a
// sentence instead of a validator's "Must be less or equal than 1e+06".
func checkRate(app core.App, rate int) error {
	limit := keystore.RateMax(app)
	if rate < 0 || (limit > 0 && rate > limit) {
		max := ""
		if limit > 0 {
			max = fmt.Sprintf(" (at most %d)", limit)
		}
		return fmt.Errorf("--rate: Give a number of requests per minute%s, or 0 for no limit.", max)
	}
	return nil
}

// splitList splits "a, b,,a" into [a b]: trimmed, without empties or
// repeats, in the order given.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" && !slices.Contains(out, part) {
			out = append(out, part)
		}
	}
	return out
}

// noArgs refuses positional arguments with a sentence: they are almost
// always a flag's value that lost its flag ("--label my key" unquoted).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("Unexpected argument %q: %s takes only flags (quote values with spaces, e.g. --label \"my key\").",
			args[0], cmd.CommandPath())
	}
	return nil
}
