// Package cli is the operator's command line for API keys: "pbkeys apikeys
// create|list|revoke|disable|enable|roll", added to PocketBase's own command
// tree. It runs in the bootstrapped app (PocketBase opens the database
// before running any command) and issues, pauses, rolls and revokes keys
// through the same keystore as the REST API and the pages.
//
// Output contract: "create" and "roll" print the key and nothing else on
// stdout, so it can be captured by a shell, and describe it on stderr;
// "list", "revoke", "disable" and "enable" print their results on stdout.
// Errors are sentences returned to PocketBase, which ends the process;
// main.go recognises them with IsCommandError and prints them as they are
// (no log timestamp) with exit status 1.
package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/keystore"
)

// NewAPIKeysCommand returns the "apikeys" command with its create, list and
// revoke subcommands, for app.RootCmd.AddCommand.
func NewAPIKeysCommand(app core.App, store *keystore.Store) *cobra.Command {
	command := &cobra.Command{
		Use:   "apikeys",
		Short: "Create, list, disable, roll and revoke API keys",
		Long: `Create, list, disable, enable, roll and revoke API keys of the users
collection.

A key is printed once, by "create" or "roll", and never again: pbkeys stores
only its hash. Owners are named by email or by user record id. Times are in
UTC.`,
		Example: `  pbkeys apikeys create --user alice@example.com --label CI --expires 90d
  pbkeys apikeys list --user alice@example.com
  pbkeys apikeys disable k1alice00000001
  pbkeys apikeys roll k1alice00000001 --grace 1h
  pbkeys apikeys revoke k1alice00000001`,
		SilenceUsage: true,
		// Before any subcommand touches the api_keys collection, make sure
		// its schema is the one this binary writes: an unapplied migration
		// would otherwise drop unknown fields (a key asked to expire would
		// silently never expire).
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return checkMigrations(app)
		},
	}
	// PocketBase discards its root command's stderr (it prints the returned
	// error itself); our messages for people must still reach the terminal.
	command.SetErr(os.Stderr)
	command.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// A flag value we parse ourselves says what is wrong in a sentence
		// of its own; pflag's wrapper would repeat the value and the flag.
		var sentence *flagValueError
		if errors.As(err, &sentence) {
			return &commandError{sentence}
		}
		return &commandError{fmt.Errorf("%s. Run %q for usage.", capitalize(err.Error()), cmd.CommandPath()+" --help")}
	})

	command.AddCommand(
		newCreateCommand(app, store),
		newListCommand(app, store),
		newRevokeCommand(app, store),
		newSetDisabledCommand(app, store, true),
		newSetDisabledCommand(app, store, false),
		newRollCommand(app, store),
	)
	markErrors(command)
	return command
}

// commandError is an error of an apikeys command: its text is a sentence
// for the operator, to be printed as it is.
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// IsCommandError reports whether err (as returned by PocketBase's Start)
// comes from an apikeys command. Such errors are sentences: main prints
// them without a log timestamp. PocketBase's own commands' errors are not
// affected.
func IsCommandError(err error) bool {
	var ce *commandError
	return errors.As(err, &ce)
}

// markErrors makes every error that c and its subcommands return (argument
// checks, the pre-run check, the command itself) a commandError.
func markErrors(c *cobra.Command) {
	mark := func(err error) error {
		var ce *commandError
		if err == nil || errors.As(err, &ce) {
			return err
		}
		return &commandError{err}
	}
	if f := c.RunE; f != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return mark(f(cmd, args)) }
	}
	if f := c.PersistentPreRunE; f != nil {
		c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error { return mark(f(cmd, args)) }
	}
	if f := c.Args; f != nil {
		c.Args = func(cmd *cobra.Command, args []string) error { return mark(f(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		markErrors(sub)
	}
}

// flagValueError is a flag value's own complaint, already a sentence
// naming the flag.
type flagValueError struct{ msg string }

func (e *flagValueError) Error() string { return e.msg }

// rateFlag is --rate: a whole number, refused with a sentence rather than
// strconv's "parsing "abc": invalid syntax".
type rateFlag struct{ n *int }

func (r rateFlag) String() string {
	if r.n == nil {
		return "0"
	}
	return strconv.Itoa(*r.n)
}

func (r rateFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return &flagValueError{fmt.Sprintf("--rate: %q is not a whole number of requests per minute (0 for no limit).", s)}
	}
	*r.n = n
	return nil
}

func (rateFlag) Type() string { return "int" }

// ignoreSIGPIPE makes a write to a closed pipe (stdout piped into a reader
// that exited) return EPIPE instead of killing the process, so that a key
// nobody can read is revoked rather than left working. Call it before
// printing a key.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }

// checkMigrations refuses to run with pbkeys migrations not yet applied to
// the database (a binary newer than the data directory, before its first
// "serve"): the operator decides when the schema changes.
func checkMigrations(app core.App) error {
	var applied []string
	err := app.DB().Select("file").From(core.DefaultMigrationsTable).Column(&applied)
	if err != nil {
		return fmt.Errorf("cli: read applied migrations: %w", err)
	}
	var pending []string
	for _, m := range core.AppMigrations.Items() {
		if !slices.Contains(applied, m.File) {
			pending = append(pending, m.File)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("The database is not up to date (%d migration(s) not applied: %s). "+
			"Run \"%s migrate up\" or start the server once, then try again.",
			len(pending), strings.Join(pending, ", "), binaryName())
	}
	return nil
}

// findUser returns the users record named by an email or a record id.
func findUser(app core.App, emailOrID string) (*core.Record, error) {
	emailOrID = strings.TrimSpace(emailOrID)
	if emailOrID == "" {
		return nil, errors.New("Name the user with --user, by email or record id.")
	}
	if strings.Contains(emailOrID, "@") {
		user, err := app.FindAuthRecordByEmail(keystore.OwnerCollection, emailOrID)
		if err != nil {
			return nil, fmt.Errorf("No user with the email %q in the %s collection.", emailOrID, keystore.OwnerCollection)
		}
		return user, nil
	}
	user, err := app.FindRecordById(keystore.OwnerCollection, emailOrID)
	if err != nil {
		return nil, fmt.Errorf("No user with the id %q in the %s collection.", emailOrID, keystore.OwnerCollection)
	}
	return user, nil
}

// ownerEmails maps the ids of the keys' owners to their emails.
func ownerEmails(app core.App, keys []*core.Record) (map[string]string, error) {
	var ids []string
	for _, k := range keys {
		if id := k.GetString(keystore.FieldUser); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	emails := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return emails, nil
	}
	owners, err := app.FindRecordsByIds(keystore.OwnerCollection, ids)
	if err != nil {
		return nil, err
	}
	for _, o := range owners {
		emails[o.Id] = o.Email()
	}
	return emails, nil
}

// allKeys returns every key, newest first.
func allKeys(app core.App) ([]*core.Record, error) {
	var keys []*core.Record
	err := app.RecordQuery(keystore.Collection).
		OrderBy(keystore.FieldCreated+" DESC", "id DESC").
		All(&keys)
	return keys, err
}

// keysByID returns the keys with ids, keeping their order, and the ids
// that match no key (or, with an owner, no key of that owner).
func keysByID(app core.App, ids []string, owner *core.Record) (found []*core.Record, missing []string, err error) {
	for _, id := range ids {
		var r *core.Record
		if owner != nil {
			r, err = app.FindFirstRecordByFilter(keystore.Collection,
				"id = {:id} && "+keystore.FieldUser+" = {:owner}", dbx.Params{"id": id, "owner": owner.Id})
		} else {
			r, err = app.FindRecordById(keystore.Collection, id)
		}
		switch {
		case err == nil:
			found = append(found, r)
		case errors.Is(err, sql.ErrNoRows):
			missing = append(missing, id)
		default:
			return nil, nil, err
		}
	}
	return found, missing, nil
}

// saveError turns a failed save into a sentence naming the flags at fault:
// PocketBase reports validation errors per field ("label: Cannot be
// blank."), and the operator typed flags, not fields.
func saveError(action string, err error) error {
	var verrs validation.Errors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("%s: %w", action, err)
	}
	fields := make([]string, 0, len(verrs))
	for f := range verrs {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		msg := strings.TrimSuffix(capitalize(verrs[f].Error()), ".")
		parts = append(parts, fmt.Sprintf("%s: %s", flagOf(f), msg))
	}
	return fmt.Errorf("%s: %s.", action, strings.Join(parts, "; "))
}

// flagOf names the create flag that sets an api_keys field.
func flagOf(field string) string {
	switch field {
	case keystore.FieldLabel:
		return "--label"
	case keystore.FieldExpires:
		return "--expires"
	case keystore.FieldCollections:
		return "--collections"
	case keystore.FieldRateLimit:
		return "--rate"
	case keystore.FieldReadOnly:
		return "--read-only"
	case keystore.FieldUser:
		return "--user"
	}
	return field
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// binaryName is how the operator invoked us ("pbkeys", "./pbkeys").
func binaryName() string {
	if len(os.Args) > 0 && os.Args[0] != "" && !strings.HasSuffix(os.Args[0], ".test") {
		return os.Args[0]
	}
	return "pbkeys"
}

// userAgent identifies the CLI in the owner's notification: who ran it
// where, as far as the machine knows.
func userAgent() string {
	who := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	host, _ := os.Hostname()
	switch {
	case who != "" && host != "":
		return "pbkeys CLI (" + who + "@" + host + ")"
	case host != "":
		return "pbkeys CLI (" + host + ")"
	}
	return "pbkeys CLI"
}
