package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pbkeys/pbkeys/internal/addrlist"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

func newCreateCommand(app core.App, store *keystore.Store) *cobra.Command {
	var (
		userArg, label, expires string
		perms, allowIPs         []string
		rate                    int
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
UTC), or an RFC 3339 time like 2027-01-31T18:00:00Z.

--perm COLLECTION:LEVEL (repeatable) gives the key permissions: LEVEL is
read (list, view, realtime, files), write (read, create, update, delete) or
none; a key with permissions reaches nothing they do not name. "*:read" stands
for every other collection, "@routes:read" or "@routes:write" for the routes
the app adds. Without --perm the key has full access, as its owner.
--allow-ip (repeatable, or comma-separated) limits the addresses the key may
be used from: IPv4 or IPv6 addresses and CIDR ranges.`,
		Example: `  pbkeys apikeys create --user alice@example.com --label CI
  KEY=$(pbkeys apikeys create --user alice@example.com --label CI --expires 90d)
  pbkeys apikeys create --user alice@example.com --label Shipping --perm orders:read --perm shipments:write
  pbkeys apikeys create --user alice@example.com --label Reports --perm '*:read' --allow-ip 10.0.0.0/8,2001:db8::/32
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
			opts := keystore.Options{Label: label, RatePerMinute: rate}
			if opts.ExpiresAt, err = humanize.ParseExpiry(expires, time.Now()); err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			if err := checkRate(app, rate); err != nil {
				return err
			}
			if opts.Permissions, err = permissionsFlag(perms); err != nil {
				return err
			}
			if opts.AllowedIPs, err = allowIPFlag(allowIPs); err != nil {
				return err
			}
			if cmd.Flags().Changed("allow-ip") && opts.AllowedIPs == nil {
				// an empty value ("--allow-ip $IPS" with IPS unset) must not mean anywhere
				return errors.New("--allow-ip: Give an address or CIDR range, or leave the flag out for any address.")
			}

			record, key, err := store.Issue(owner, opts, cliOrigin())
			if err != nil {
				return saveError("The key was not created", err)
			}
			// The key first, so nothing that follows can lose it. A key
			// nobody could read (stdout closed, disk full) is only a
			// liability: revoke it at once. Without SIGPIPE ignored, a
			// closed pipe would kill the process before it could.
			ignoreSIGPIPE()
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), key.String()); err != nil {
				if _, derr := store.Revoke(owner, record.Id, cliOrigin()); derr != nil {
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
	f.StringArrayVar(&perms, "perm", nil, `a permission, COLLECTION:LEVEL with LEVEL read, write or none ("*" for other collections, "@routes" for the app's routes); repeatable (default: full access)`)
	f.StringSliceVar(&allowIPs, "allow-ip", nil, "an address or CIDR range the key may be used from; repeatable or comma-separated (default: anywhere)")
	replacedFlags(f)
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

// noArgs refuses positional arguments with a sentence: they are almost
// always a flag's value that lost its flag ("--label my key" unquoted).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("Unexpected argument %q: %s takes only flags (quote values with spaces, e.g. --label \"my key\").",
			args[0], cmd.CommandPath())
	}
	return nil
}

// permissionsFlag reads --perm values ("orders:read"); none is full
// access. Which collections exist is the keystore's check, on save.
func permissionsFlag(values []string) (permissions.Set, error) {
	if len(values) == 0 {
		return nil, nil
	}
	set := permissions.Set{}
	for _, v := range values {
		name, levelText, ok := strings.Cut(strings.TrimSpace(v), ":")
		level, known := permissions.ParseLevel(strings.TrimSpace(levelText))
		name = strings.TrimSpace(name)
		old, repeated := set[name]
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("--perm %s: Write COLLECTION:LEVEL, e.g. --perm orders:read.", v)
		case !known:
			return nil, fmt.Errorf("--perm %s: The level must be read, write or none.", v)
		case repeated && old != level:
			return nil, fmt.Errorf("--perm %s: %s is given two different levels.", v, name)
		}
		set[name] = level
	}
	raw, _ := set.MarshalJSON()
	if _, err := permissions.Parse(raw); err != nil {
		return nil, formatError("--perm", err, permissions.ErrFormat)
	}
	return set, nil
}

// allowIPFlag reads --allow-ip values; none is anywhere.
func allowIPFlag(values []string) (addrlist.List, error) {
	var list addrlist.List
	for _, v := range values {
		p, err := addrlist.ParseEntry(v)
		if err != nil {
			return nil, formatError("--allow-ip", err, addrlist.ErrFormat)
		}
		list = append(list, p)
	}
	if len(list) > addrlist.MaxEntries {
		return nil, fmt.Errorf("--allow-ip: A key can hold at most %d addresses or ranges, not %d.", addrlist.MaxEntries, len(list))
	}
	return list, nil
}

// formatError is a format error (one wrapping format, a package's
// ErrFormat) of flag's values as a sentence: the flag, then what is wrong.
func formatError(flag string, err, format error) error {
	msg := capitalize(strings.TrimPrefix(err.Error(), format.Error()+": "))
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return fmt.Errorf("%s: %s", flag, msg)
}

// replacedFlags are the flags of versions before permissions, kept hidden
// so that a script using them gets a sentence saying what to write now
// rather than cobra's "unknown flag", and never a key that reaches more.
func replacedFlags(f *pflag.FlagSet) {
	for name, instead := range map[string]string{
		"read-only":   `--read-only is replaced by permissions: --perm '*:read' --perm '@routes:read' reads everything.`,
		"collections": `--collections is replaced by permissions: --perm notes:write --perm tasks:write (or :read).`,
	} {
		f.Var(replacedFlag(instead), name, instead)
		_ = f.MarkHidden(name)
		f.Lookup(name).NoOptDefVal = "true"
	}
}

type replacedFlag string

func (r replacedFlag) String() string   { return "" }
func (r replacedFlag) Type() string     { return "string" }
func (r replacedFlag) Set(string) error { return errors.New(string(r)) }
